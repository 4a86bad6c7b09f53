"""Search in the top bar: a task number, a name, a resident ID number or a phone, matched exactly.

Identity numbers and phones are encrypted at rest: they are found through their blind indexes (the keyed
hashes the intake stores), never by decrypting the table. Results stay in the user's territory and the
search is recorded in the access log as a read of the persons it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..access_log import record_access
from ..masking import mask_id_number, mask_name, mask_phone, sees_unmasked
from ..models import AccessAction, TracingTask
from ..roles import can
from ..selectors import tasks_visible_to
from ..validation import clean_id_number, clean_mobile, clean_name, id_number_hash, name_hash, phone_hash

MAX_RESULTS = 50
_TASK_NUMBER = re.compile(r"^[Tt#]?(\d{1,10})$")


@dataclass(frozen=True)
class Query:
    kind: str  # task, id_number, phone, name
    value: str


def parse_query(raw: str) -> Query | None:
    """What the text is: a task number (T123, #123, 123), a resident ID (18 or 15 characters), a mobile
    phone (11 digits, +86 allowed), else a name."""
    # Control characters (a NUL cannot even reach PostgreSQL text) are never part of a name or number.
    text = "".join(ch for ch in (raw or "") if ch.isprintable()).strip()
    if not text:
        return None
    compact = re.sub(r"[\s-]", "", text)
    if len(compact) in (15, 18) and re.fullmatch(r"\d{14,17}[\dXx]", compact):
        try:
            _given, id18 = clean_id_number(compact)
        except ValueError:
            id18 = compact.upper()
        return Query("id_number", id18)
    try:
        return Query("phone", clean_mobile(compact))
    except ValueError:
        pass
    if match := _TASK_NUMBER.fullmatch(compact):
        return Query("task", match.group(1))
    return Query("name", clean_name(text)[:50])


def search_tasks(user, query: Query) -> QuerySet[TracingTask]:
    tasks = tasks_visible_to(user)
    if query.kind == "task":
        return tasks.filter(pk=int(query.value))
    if query.kind == "id_number":
        # person_key is "id:" + the ID's keyed hash: a unique, indexed column.
        return tasks.filter(person__person_key="id:" + id_number_hash(query.value))
    if query.kind == "phone":
        return tasks.filter(person__phone_hash=phone_hash(query.value))
    return tasks.filter(person__name_hash=name_hash(query.value)) if query.value else tasks.none()


@never_cache
@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "task.view"):
        raise PermissionDenied
    raw = request.GET.get("q", "")
    query = parse_query(raw)
    rows: list[dict] = []
    if query is not None:
        found = list(
            search_tasks(request.user, query)
            .select_related("person", "division")
            .order_by("-created_at", "-id")[:MAX_RESULTS]
        )
        if found:
            record_access(
                request,
                action=AccessAction.VIEW,
                objects=found,
                fields=["name", "id_number", "phone"],
                reason=_("search: %(kind)s") % {"kind": query.kind},
            )
        unmasked = sees_unmasked(request.user)
        field_user = can(request.user, "task.fieldwork") and not can(request.user, "task.assign")
        for task in found:
            person = task.person
            rows.append(
                {
                    "task": task,
                    "url": f"/field/tasks/{task.pk}/" if field_user else f"/tasks/{task.pk}/",
                    "name": person.name if unmasked else mask_name(person.name),
                    "id_number": person.id_number if unmasked else mask_id_number(person.id_number),
                    "phone": person.phone if unmasked else mask_phone(person.phone),
                }
            )
    kinds = {
        "task": _("task number"),
        "id_number": _("resident ID number"),
        "phone": _("phone"),
        "name": _("name"),
    }
    return render(
        request,
        "tasks/search.html",
        {
            "q": raw,
            "search_q": raw,
            "kind": kinds.get(query.kind) if query else "",
            "rows": rows,
            "limited": len(rows) >= MAX_RESULTS,
        },
    )
