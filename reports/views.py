"""Pages of reports (issue 7): dashboard, statistics (+ CSV/XLSX export), investigation reports (HTML,
PDF, versions), cluster report, chain graph, upstream push log. Every read goes through
tasks.selectors (outside the territory: 404) and every report or export of personal data is recorded
with tasks.access_log.record_access."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tasks.access_log import record_access
from tasks.exports import csv_text, xlsx_bytes
from tasks.models import AccessAction, Priority, TaskStatus, TracingTask
from tasks.models.territory import Level
from tasks.roles import can
from tasks.selectors import (
    desks_without_officer_on_shift,
    get_visible_or_404,
    scope_code,
    tasks_visible_to,
    visible_to,
)

from . import stats
from .models import ExportLog, ReportVersion, UpstreamDelivery
from .panels import dashboard_panels
from .reading import chain, masked_for, render_pdf
from .services import report_snapshot


def _require(user, capability: str) -> None:
    if not can(user, capability):
        raise PermissionDenied


def drill_root(request) -> str:
    """The dashboard's division: the account's scope, or `?division=` inside it (else 404)."""
    root = scope_code(request.user)
    if root is None:
        raise Http404
    wanted = request.GET.get("division", "")
    if wanted and wanted != root:
        from tasks.models import Division

        if not (
            wanted.isdigit() and wanted.startswith(root) and Division.objects.filter(code=wanted).exists()
        ):
            raise Http404
        return wanted
    return root


@login_required
def dashboard_geo(request):
    """County boundaries of Hainan with their division codes (reports/geo.py): public map data, cached;
    any signed-in account may draw them (the review map uses them as its background)."""
    from .geo import hainan_counties

    response = HttpResponse(hainan_counties(), content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def dashboard(request):
    _require(request.user, "stats.view")
    root = drill_root(request)
    scope = scope_code(request.user)
    initial = json.loads(stats.dashboard_json(request.user, root))
    uncovered = desks_without_officer_on_shift(request.user, root)
    return render(
        request,
        "reports/dashboard.html",
        {
            "data_url": "/api/v1/stats/dashboard/" + (f"?division={root}" if root != scope else ""),
            "geo_url": reverse("dashboard_geo"),
            "root": root,
            "scope": scope,
            "poll_seconds": settings.DASHBOARD_POLL_SECONDS,
            "initial": initial,
            # Capped: a province's commander is not shown a hundred warnings, but is told how many.
            "uncovered_desks": list(uncovered[:10]),
            "uncovered_count": uncovered.count(),
            "division_codes": [d["code"] for d in initial["divisions"]],
            "trend_labels": {c: str(COLUMN_LABELS.get(c, c)) for c in stats.TIME_COLUMNS},
            # What the apps built on reports add (the duty app's predicted breaches): reports/panels.py.
            "panels": dashboard_panels(request, root),
        },
    )


# Column headers and option labels of the statistics page; the stored identifiers stay in the API and
# the exports, which machines read.
COLUMN_LABELS = {
    "code": gettext_lazy("division code"),
    "name": gettext_lazy("name"),
    "total": gettext_lazy("total"),
    "active": gettext_lazy("open"),
    "warning": gettext_lazy("near deadline"),
    "overdue": gettext_lazy("overdue"),
    "unresolved": gettext_lazy("unresolved"),
    "label": gettext_lazy("name"),
    "tasks": gettext_lazy("tasks"),
    "leads": gettext_lazy("leads"),
    "batch": gettext_lazy("intake batch"),
    "started_at": gettext_lazy("started"),
    "batch_status": gettext_lazy("batch status"),
    "hour": gettext_lazy("hour"),
    "day": gettext_lazy("day"),
    "created": gettext_lazy("created"),
    "dispatch_sla": gettext_lazy("dispatched within 30 min"),
    "radius_sla": gettext_lazy("radius limited within 3 h"),
    "trace_sla": gettext_lazy("traced within 10 h"),
    **{status.value: status.label for status in TaskStatus},
    "radius_limited": gettext_lazy("radius limited"),
    "traced": gettext_lazy("traced"),
}
GROUP_LABELS = {
    "division": gettext_lazy("division"),
    "status": gettext_lazy("status"),
    "priority": gettext_lazy("priority"),
    "batch": gettext_lazy("intake batch"),
    "source": gettext_lazy("source"),
    "hour": gettext_lazy("hour"),
    "day": gettext_lazy("day"),
}
# A raw code column beside its label column (status, source, priority tables): the page shows the label.
CODE_COLUMNS_WITH_LABEL = {"status", "source"}


def _display_table(table: stats.Table) -> tuple[list[str], list[list]]:
    from datetime import datetime

    from tasks.models import IntakeBatch

    batch_labels = dict(IntakeBatch.Status.choices)
    drop = {
        i for i, c in enumerate(table.columns) if c in CODE_COLUMNS_WITH_LABEL and "label" in table.columns
    }
    columns = [str(COLUMN_LABELS.get(c, c)) for i, c in enumerate(table.columns) if i not in drop]
    rows = []
    for row in table.rows:
        cells = []
        for i, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            if i in drop:
                continue
            if column == "batch_status":
                value = batch_labels.get(value, value)
            elif column in ("started_at", "hour", "day") and isinstance(value, str):
                try:
                    value = timezone.localtime(datetime.fromisoformat(value)).strftime(
                        "%Y-%m-%d" if column == "day" else "%Y-%m-%d %H:%M"
                    )
                except ValueError:
                    pass
            cells.append(value)
        rows.append(cells)
    return columns, rows


@login_required
def stats_page(request):
    _require(request.user, "stats.view")
    try:
        q = stats.parse_query(request.user, request.GET)
        table = stats.table(q)
        sla = stats.sla(q)
    except stats.BadParameter as exc:
        return HttpResponseBadRequest(str(exc))
    chartable = q.group_by in ("hour", "day")
    columns, rows = _display_table(table)
    return render(
        request,
        "reports/stats.html",
        {
            "q": q,
            "table": table,
            "sla": sla,
            "groups": [(g, GROUP_LABELS.get(g, g)) for g in stats.GROUPS],
            "levels": Level.choices,
            "columns": columns,
            "rows": rows,
            "chart_labels": {c: str(COLUMN_LABELS.get(c, c)) for c in stats.TIME_COLUMNS},
            "statuses": TaskStatus.choices,
            "priorities": Priority.choices,
            "chartable": chartable,
            "query_string": request.GET.urlencode(),
            "division_codes": [row[0] for row in table.rows] if q.group_by == "division" else [],
        },
    )


def export_table(request, table: stats.Table, fmt: str, params: dict) -> HttpResponse:
    """CSV or XLSX of a statistics table; recorded in ExportLog (aggregates carry no personal data)."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"stats-{table.name}-{stamp}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(csv_text(table.columns, table.rows), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(
            xlsx_bytes(table.name, table.columns, table.rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        return HttpResponseBadRequest("export must be csv or xlsx")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    ExportLog.objects.create(
        user=request.user, table=table.name, format=fmt, params=params, rows=len(table.rows)
    )
    return response


@login_required
def stats_export(request):
    _require(request.user, "stats.view")
    try:
        q = stats.parse_query(request.user, request.GET)
        table = stats.table(q)
    except stats.BadParameter as exc:
        return HttpResponseBadRequest(str(exc))
    return export_table(request, table, request.GET.get("export", "csv"), dict(request.GET.items()))


# ---- investigation reports ---------------------------------------------------------------------------


def _task(request, task_id: int) -> TracingTask:
    _require(request.user, "task.view")
    return get_visible_or_404(request.user, TracingTask.objects.select_related("division"), pk=task_id)


@login_required
def report_task(request, task_id: int):
    """The report as it stands now (live data), and the list of frozen versions."""
    task = _task(request, task_id)
    data = report_snapshot(task)
    record_access(request, action=AccessAction.REPORT, objects=[task])
    versions = (
        ReportVersion.objects.filter(task=task).order_by("-number").only("number", "reason", "created_at")
    )
    return render(
        request,
        "reports/report.html",
        {"task": task, "r": masked_for(request.user, data), "versions": versions, "version": None},
    )


@login_required
def report_version(request, task_id: int, number: int):
    task = _task(request, task_id)
    version = ReportVersion.objects.filter(task=task, number=number).first()
    if version is None:
        raise Http404
    record_access(request, action=AccessAction.REPORT, objects=[task])
    versions = (
        ReportVersion.objects.filter(task=task).order_by("-number").only("number", "reason", "created_at")
    )
    return render(
        request,
        "reports/report.html",
        {"task": task, "r": masked_for(request.user, version.data), "versions": versions, "version": version},
    )


def _pdf_response(request, task, data, version):
    pdf, _pages = render_pdf(user=request.user, data=data, version=version)
    record_access(request, action=AccessAction.REPORT, objects=[task])
    name = f"report-T{task.pk}" + (f"-v{version.number}" if version else "") + ".pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def report_task_pdf(request, task_id: int):
    task = _task(request, task_id)
    return _pdf_response(request, task, report_snapshot(task), None)


@login_required
def report_version_pdf(request, task_id: int, number: int):
    task = _task(request, task_id)
    version = ReportVersion.objects.filter(task=task, number=number).first()
    if version is None:
        raise Http404
    return _pdf_response(request, task, version.data, version)


@login_required
def report_cluster(request, task_id: int):
    """The case and the chain of tasks its contacts opened: per generation, status and clocks."""
    task = _task(request, task_id)
    graph = chain(request.user, task.pk)
    visible_ids = [n["task"] for n in graph["nodes"] if n.get("task")]
    record_access(
        request, action=AccessAction.REPORT, objects=tasks_visible_to(request.user).filter(pk__in=visible_ids)
    )
    by_status: dict[str, int] = {}
    for node in graph["nodes"]:
        by_status[node["status"]] = by_status.get(node["status"], 0) + 1
    return render(
        request,
        "reports/cluster.html",
        {
            "task": task,
            "r": masked_for(request.user, report_snapshot(task)),
            "graph": graph,
            "by_status": sorted(by_status.items()),
        },
    )


@login_required
def report_chain(request, task_id: int):
    task = _task(request, task_id)
    return render(
        request, "reports/chain.html", {"task": task, "data_url": f"/api/v1/reports/chain/{task.pk}/"}
    )


@login_required
def deliveries(request):
    """Every push to upstream platforms and each of its attempts (the reader's territory only)."""
    _require(request.user, "stats.view")
    rows = visible_to(
        request.user, UpstreamDelivery.objects.select_related("version").prefetch_related("attempt_log")
    ).order_by("-created_at", "-id")[:200]
    return render(request, "reports/deliveries.html", {"deliveries": rows, "title": _("Upstream reporting")})
