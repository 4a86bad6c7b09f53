"""Reading reports: masking a snapshot for its reader, the PDF renderer, the chain of transmission."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tasks.masking import mask_record, sees_unmasked
from tasks.selectors import scope_code
from tasks.watermark import watermark_text


def masked_for(user, data: dict) -> dict:
    """The snapshot as `user` may read it: identity numbers, phones, names and addresses masked for
    roles outside tasks.roles.UNMASKED_ROLES."""
    if sees_unmasked(user):
        return data
    data = copy.deepcopy(data)
    person = data["person"]
    mask_record("person", person, unmasked=False, division_name=person.get("division_name", ""))
    for contact in data.get("contacts", []):
        mask_record("contact", contact, unmasked=False, division_name=contact.get("division_name", ""))
    for entry in data.get("trajectory", []):
        mask_record("report_trajectory", entry, unmasked=False)
    return data


def render_pdf(*, user, data: dict, version=None, now: datetime | None = None) -> tuple[bytes, int]:
    """The report as PDF for `user` (masked, with the viewer's watermark on every page): (bytes, pages).
    Chinese text uses Noto Sans CJK (Debian fonts-noto-cjk), embedded (subset) by WeasyPrint."""
    from weasyprint import CSS, HTML

    html = render_to_string(
        "reports/report_pdf.html",
        {
            "r": masked_for(user, data),
            "version": version,
            "watermark": watermark_text(user, now),
            "tiles": range(12),
            "printed_at": timezone.localtime(now or timezone.now()),
        },
    )
    css_path = finders.find("reports/report_pdf.css")
    document = HTML(string=html, base_url=str(Path(settings.BASE_DIR))).render(
        stylesheets=[CSS(filename=css_path)]
    )
    return document.write_pdf(), len(document.pages)


CHAIN_LIMIT = 5000


def chain(user, root_id: int) -> dict:
    """The case `root_id` and every task its close contacts opened, recursively (source_task), in one
    recursive CTE over the source_task index. Tasks outside the reader's territory are nodes without
    details."""
    sql = """
        WITH RECURSIVE chain AS (
            SELECT id, source_task_id, generation, status, division_id, created_at, dispatched_at, radius_limited_at,
                   traced_at, approved_at, trace_due, 0 AS depth
            FROM tasks_tracingtask WHERE id = %s
          UNION ALL
            SELECT t.id, t.source_task_id, t.generation, t.status, t.division_id, t.created_at, t.dispatched_at,
                   t.radius_limited_at, t.traced_at, t.approved_at, t.trace_due, c.depth + 1
            FROM tasks_tracingtask t JOIN chain c ON t.source_task_id = c.id
            WHERE c.depth < 100
        )
        SELECT id, source_task_id, generation, status, division_id, created_at, dispatched_at, radius_limited_at,
               traced_at, approved_at, trace_due, depth FROM chain ORDER BY depth, id LIMIT %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [root_id, CHAIN_LIMIT])
        rows = cursor.fetchall()
    prefix = scope_code(user)
    if prefix is None:
        rows = []
        prefix = ""
    shared = set()
    if prefix:
        from tasks.selectors import tasks_visible_to

        outside = [r[0] for r in rows if not r[4].startswith(prefix)]
        if outside:
            shared = set(tasks_visible_to(user).filter(pk__in=outside).values_list("pk", flat=True))
    nodes, edges = [], []
    iso = lambda v: timezone.localtime(v).isoformat() if v else None  # noqa: E731
    for (
        tid,
        source,
        generation,
        status,
        division,
        created,
        dispatched,
        radius,
        traced,
        approved,
        trace_due,
        depth,
    ) in rows:
        visible = division.startswith(prefix) or tid in shared
        node = {
            "id": f"t{tid}",
            "generation": generation,
            "depth": depth,
            "status": status,
            "visible": visible,
        }
        if visible:
            node.update(
                {
                    "task": tid,
                    "label": f"T{tid}",
                    "division": division,
                    "created_at": iso(created),
                    "dispatched_at": iso(dispatched),
                    "radius_limited_at": iso(radius),
                    "traced_at": iso(traced),
                    "approved_at": iso(approved),
                    "trace_due": iso(trace_due),
                    "url": reverse("report_task", args=[tid]),
                }
            )
        else:
            node["label"] = "·"
        nodes.append(node)
        if source is not None and depth > 0:
            edges.append({"id": f"e{tid}", "source": f"t{source}", "target": f"t{tid}"})
    generations: dict[int, int] = {}
    for node in nodes:
        generations[node["generation"]] = generations.get(node["generation"], 0) + 1
    return {
        "root": root_id,
        "nodes": nodes,
        "edges": edges,
        "truncated": len(rows) >= CHAIN_LIMIT,
        "generations": dict(sorted(generations.items())),
    }
