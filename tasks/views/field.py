"""Field pages (issue 5): "my tasks" (/field/), the task page (/field/tasks/<id>/), the offline fallback
and the service worker (/field/sw.js, scope /field/).

The pages are rendered on the server from the same selectors and services as the API; static/field/
app.js turns their forms into JSON writes to /api/v1/tasks/{id}/..., kept in an on-device outbox while
the phone is offline (see docs/field.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.db.models import Case, DateTimeField, F, When
from django.shortcuts import render
from django.templatetags.static import PrefixNode, static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from .. import fieldwork as services
from .. import hooks
from ..access_log import record_access
from ..masking import mask_address, mask_id_number, mask_name, mask_phone, sees_unmasked
from ..models import (
    AccessAction,
    CloseContact,
    ContactAttempt,
    Division,
    IdType,
    Priority,
    RadiusControl,
    Registration,
    TaskKind,
    TaskStatus,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from ..roles import can
from ..selectors import get_visible_or_404, tasks_visible_to
from ..validation import name_hash

S = TaskStatus
LIST_LIMIT = 300
SHELL_STATIC = ("css/app.css", "field/field.css", "field/app.js")


@dataclass
class FieldRow:
    task: TracingTask
    clock: str | None  # "radius" | "trace" | "rework" | "verify" | "register" | None
    due: datetime | None

    @property
    def deadline_label(self) -> str:
        return {
            "radius": _("Radius limited by"),
            "trace": _("Trajectory traced by"),
            "rework": _("Resubmit by"),
            "verify": _("Verify by"),
            "register": _("Register by"),
        }.get(self.clock or "", "")


def field_task_rows(user, *, q: str = "", status: str = "", priority: str = "") -> list[FieldRow]:
    """The open field tasks of the account's village (its sub-unit) or township (its team): returned
    tasks first (they wait for a resubmission, by their resubmit deadline), then nearest deadline first:
    the radius deadline until the radius is limited, then the trajectory deadline (a verification: its
    verify deadline; a registration: its register deadline until registered). `q` is a task number
    or a person's exact name; `status` and `priority` narrow the list."""
    next_due = Case(
        When(kind=TaskKind.VERIFICATION, then=Case(When(verified_at__isnull=True, then=F("verify_due")))),
        When(kind=TaskKind.REGISTRATION, then=Case(When(registered_at__isnull=True, then=F("register_due")))),
        When(status=TaskStatus.RETURNED, then=F("rework_due")),
        When(radius_limited_at__isnull=True, then=F("radius_due")),
        When(traced_at__isnull=True, then=F("trace_due")),
        default=None,
        output_field=DateTimeField(),
    )
    returned_first = Case(When(status=TaskStatus.RETURNED, then=0), default=1)
    tasks = tasks_visible_to(user).filter(status__in=services.FIELD_EDITABLE)
    q = "".join(ch for ch in q if ch.isprintable()).strip()
    if q:
        number = q.lstrip("Tt#")
        tasks = (
            tasks.filter(pk=int(number))
            if number.isdigit() and len(number) < 10
            # Names are encrypted: exact match on the name's blind index.
            else tasks.filter(person__name_hash=name_hash(q))
        )
    if status in services.FIELD_EDITABLE:
        tasks = tasks.filter(status=status)
    if priority.isdigit() and len(priority) == 1:
        tasks = tasks.filter(priority=int(priority))
    tasks = (
        tasks.select_related("person", "division", "assignee")
        .annotate(next_due=next_due, returned_first=returned_first)
        .order_by("returned_first", F("next_due").asc(nulls_last=True), "priority", "id")[:LIST_LIMIT]
    )
    rows = []
    for task in tasks:
        clock = None
        if task.kind == TaskKind.VERIFICATION:
            clock = "verify" if task.next_due is not None else None
        elif task.kind == TaskKind.REGISTRATION:
            clock = "register" if task.next_due is not None else None
        elif task.status == TaskStatus.RETURNED:
            clock = "rework" if task.next_due is not None else None
        elif task.next_due is not None:
            clock = "radius" if task.radius_limited_at is None else "trace"
        rows.append(FieldRow(task, clock, task.next_due))
    return rows


def _require_field_role(user) -> None:
    if not can(user, "task.fieldwork"):
        raise PermissionDenied(_("Your role may not do this."))


def remaining_text(due: datetime | None, now: datetime) -> tuple[str, str]:
    """("2 h 05 min left" | "overdue 0 h 12 min", css class): the server-side countdown, before JS ticks."""
    if due is None:
        return "", ""
    seconds = int((due - now).total_seconds())
    overdue = seconds < 0
    seconds = abs(seconds)
    text = _("%(h)d h %(m)02d min") % {"h": seconds // 3600, "m": (seconds % 3600) // 60}
    if overdue:
        return _("overdue by %(time)s") % {"time": text}, "breach"
    css = "warning" if seconds < 3600 else ""
    return _("%(time)s left") % {"time": text}, css


def js_messages() -> dict[str, str]:
    """Interface text for static/field/app.js, translated here (no inline script: a JSON data block)."""
    return {
        "left": _("%(time)s left"),
        "overdue": _("overdue by %(time)s"),
        "hm": _("%(h)d h %(m)02d min"),
        "online": _("Online"),
        "offline": _("Offline: what you save is kept on this phone and sent when the connection returns."),
        "waiting": _("Waiting to be sent"),
        "sending": _("Sending…"),
        "queued": _("waiting"),
        "conflict": _("conflict"),
        "invalid": _("refused"),
        "denied": _("log in again"),
        "discard": _("Discard"),
        "retry": _("Send again on the current version"),
        "send_now": _("Send now"),
        "saved_offline": _("Saved on this phone: it will be sent when the connection returns."),
        "saved": _("Saved."),
        "fix_errors": _("Please correct the form:"),
        "confirm_delete": _("Delete this trajectory entry?"),
        "confirm_logout": _("%(n)s records are not sent yet and stay on this phone. Log out anyway?"),
        "login_again": _("Your session has ended: log in again, then the records will be sent."),
        "not_found": _("This task is no longer visible to you (transferred?)."),
        "server_error": _("The server could not save this now; it will be tried again."),
        "locating": _("Locating…"),
        "located": _("Location recorded (±%(m)s m)."),
        "no_location": _("Location not available: enter the address."),
        "edit_entry": _("Edit trajectory entry"),
        "add_entry": _("Add trajectory entry"),
        "kind_attempts": _("Contact attempt"),
        "kind_radius": _("Radius limited"),
        "kind_trajectory": _("Trajectory entry"),
        "kind_trajectory_edit": _("Trajectory change"),
        "kind_trajectory_delete": _("Trajectory deletion"),
        "kind_contacts": _("Close contact"),
        "kind_tests": _("Test result"),
        "kind_traced": _("Trajectory traced"),
        "kind_submit": _("Submit for review"),
        "kind_receive": _("Receipt"),
        "kind_verification": _("Verification"),
        "kind_registration": _("Registration"),
    }


def _common(request) -> dict:
    return {
        "field_messages": js_messages(),
        "sw_url": reverse("field_sw"),
        "now": timezone.now(),
    }


@login_required
@ensure_csrf_cookie
@never_cache
@require_GET
def field_tasks(request):
    """My tasks: phone-first list, nearest clock first, with a countdown to each next deadline."""
    _require_field_role(request.user)
    now = timezone.now()
    unmasked = sees_unmasked(request.user)
    filters = {name: request.GET.get(name, "")[:60] for name in ("q", "status", "priority")}
    rows = field_task_rows(request.user, **filters)
    returns = _return_reasons([row.task.pk for row in rows if row.task.status == TaskStatus.RETURNED])
    if rows:
        record_access(request, action=AccessAction.VIEW, objects=[row.task for row in rows], fields=["name"])
    items = []
    for row in rows:
        text, css = remaining_text(row.due, now)
        items.append(
            {
                "task": row.task,
                "person": row.task.person.name if unmasked else mask_name(row.task.person.name),
                "clock": row.clock,
                "due": row.due,
                "deadline_label": row.deadline_label,
                "remaining": text,
                "remaining_class": css,
                "mine": row.task.assignee_id == request.user.pk,
                "returned": returns.get(row.task.pk),
            }
        )
    context = {
        **_common(request),
        "items": items,
        "filters": filters,
        "filtered": any(filters.values()),
        "status_choices": [(s, TaskStatus(s).label) for s in services.FIELD_EDITABLE],
        "priority_choices": Priority.choices,
        "precache": [reverse("field_task", args=[row.task.pk]) for row in rows[:50]]
        + [reverse("task-fieldwork", args=[row.task.pk]) for row in rows[:50]]
        + [reverse("field-task-list")]
        + _monitoring_pages(),
    }
    return render(request, "field/tasks.html", context)


def _monitoring_pages() -> list[str]:
    """The "due today" list of health monitoring (the monitoring app's page, named here by its route)
    is kept for offline use with the tasks."""
    try:
        return [reverse("field_monitoring")]
    except NoReverseMatch:
        return []


def _return_reasons(task_ids: list[int]) -> dict[int, dict]:
    """The latest return of each task: the expert's reasons and when (from the reviews app's hook)."""
    return hooks.return_reasons(task_ids)


def _review_comments(task: TracingTask) -> tuple[list, dict[tuple[str, int], list]]:
    """The experts' comments on the task: (on the task as a whole, {(model name, entry id): comments})."""
    return hooks.review_comments(task)


def _division_choices(task: TracingTask) -> list[Division]:
    """The villages of the task's township (the usual answer to "where is the person now"); other
    places are entered by code."""
    township = (task.division_id or "")[:9]
    if len(township) < 9:
        return list(
            Division.objects.filter(code__startswith=task.division_id, level="village").order_by("code")[:200]
        )
    return list(Division.objects.filter(parent_id=township).order_by("code"))


@login_required
@ensure_csrf_cookie
@never_cache
@require_GET
def field_task(request, task_id: int):
    """The task page: the person, the leads behind the task, the forms, the trajectory timeline."""
    _require_field_role(request.user)
    task = get_visible_or_404(
        request.user,
        TracingTask.objects.select_related("person", "division", "assignee", "subunit", "source_task"),
        pk=task_id,
    )
    user = request.user
    unmasked = sees_unmasked(user)
    person = task.person
    may_call = unmasked and person.phone and (task.assignee_id in (None, user.pk))
    now = timezone.now()
    clocks = []
    # The clocks of the task's kind only (tasks/clocks.py KIND_CLOCKS): each kind has its own work.
    kind_clocks = {
        TaskKind.VERIFICATION: (("verify", _("Verify by"), task.verify_due, task.verified_at),),
        TaskKind.REGISTRATION: (("register", _("Register by"), task.register_due, task.registered_at),),
    }.get(
        task.kind,
        (
            ("radius", _("Radius limited by"), task.radius_due, task.radius_limited_at),
            ("trace", _("Trajectory traced by"), task.trace_due, task.traced_at),
            ("rework", _("Resubmit by"), task.rework_due, task.rework_done_at),
        ),
    )
    for clock, label, due, done in kind_clocks:
        text, css = remaining_text(due, now) if not done else ("", "")
        clocks.append(
            {
                "clock": clock,
                "label": label,
                "due": due,
                "done": done,
                "remaining": text,
                "remaining_class": css,
            }
        )
    trajectory = list(
        task.trajectory_entries.filter(deleted_at__isnull=True).select_related("division", "created_by")
    )
    contacts = list(task.close_contacts.select_related("division", "lead__link"))
    general_comments, entry_comments = _review_comments(task)
    for entry in trajectory:
        entry.review_comments = entry_comments.get(("trajectoryentry", entry.pk), [])
    for contact in contacts:
        contact.review_comments = entry_comments.get(("closecontact", contact.pk), [])
    attempts = list(task.contact_attempts.select_related("created_by"))
    for attempt in attempts:
        attempt.review_comments = entry_comments.get(("contactattempt", attempt.pk), [])
    tests = list(task.test_results.select_related("created_by"))
    for test in tests:
        test.review_comments = entry_comments.get(("testresult", test.pk), [])
    registrations = list(task.registrations.select_related("division", "created_by"))
    record_access(request, action=AccessAction.VIEW, objects=[task, *contacts, *registrations])
    if not unmasked:
        for contact in contacts:
            contact.name = mask_name(contact.name)
            contact.id_number = mask_id_number(contact.id_number)
            contact.phone = mask_phone(contact.phone)
        for registration in registrations:
            registration.address = mask_address(registration.address, registration.division.name)
    editable = task.status in services.FIELD_EDITABLE
    entries_json = [
        {
            "id": e.pk,
            "revision": e.revision,
            "started_at": timezone.localtime(e.started_at).strftime("%Y-%m-%dT%H:%M"),
            "ended_at": timezone.localtime(e.ended_at).strftime("%Y-%m-%dT%H:%M"),
            "place_name": e.place_name,
            "address": e.address,
            "division_code": e.division_id or "",
            "latitude": str(e.latitude) if e.latitude is not None else "",
            "longitude": str(e.longitude) if e.longitude is not None else "",
            "activity": e.activity,
            "transport": e.transport,
            "vehicle_number": e.vehicle_number,
            "seat": e.seat,
            "companions": e.companions,
        }
        for e in trajectory
    ]
    context = {
        **_common(request),
        "task": task,
        "person": {
            "name": person.name if unmasked else mask_name(person.name),
            "id_type": person.id_type,
            "id_type_label": person.get_id_type_display(),
            "id_number": person.id_number if unmasked else mask_id_number(person.id_number),
            "phone": person.phone if unmasked else mask_phone(person.phone),
            "address": task.address if unmasked else mask_address(task.address, task.division.name),
            "case_status": person.case_status,
            "case_status_label": person.get_case_status_display(),
        },
        "may_call": may_call,
        "clocks": clocks,
        "leads": list(task.leads.order_by("reported_at", "id")),
        "attempts": attempts,
        "returned": _return_reasons([task.pk]).get(task.pk) if task.status == TaskStatus.RETURNED else None,
        "general_comments": general_comments,
        "radius": list(task.radius_controls.select_related("division", "created_by")),
        "trajectory": trajectory,
        "contacts": contacts,
        "tests": tests,
        "missing": services.missing_for(task) if task.kind == TaskKind.INVESTIGATION else {},
        "editable": editable,
        "registrations": registrations,
        "registration_open": editable and task.kind == TaskKind.REGISTRATION and task.registered_at is None,
        "divisions": _division_choices(task),
        "choices": {
            "method": ContactAttempt.Method.choices,
            "measure": RadiusControl.Measure.choices,
            "transport": TrajectoryEntry.Transport.choices,
            "relation": CloseContact.Relation.choices,
            # The same names as the upload page's list of a file's id_type values.
            "id_type": IdType.choices,
            "test_type": TestResult.Type.choices,
            "result": TestResult.Result.choices,
            "health_state": Registration.HealthState.choices,
        },
        "page_data": {
            "task": task.pk,
            "version": task.version,
            "status": task.status,
            "editable": editable,
            "fieldwork_url": reverse("task-fieldwork", args=[task.pk]),
            "entries": entries_json,
        },
    }
    return render(request, "field/task.html", context)


@require_GET
def field_offline(request):
    """What the service worker shows for a field page it has not cached while the phone is offline."""
    return render(request, "field/offline.html", {})


def _shell_version() -> str:
    """Changes whenever a shell file changes, so a new service worker replaces the old caches."""
    digest = hashlib.sha256()
    for name in SHELL_STATIC:
        path = finders.find(name)
        if path:
            with open(path, "rb") as fh:
                digest.update(fh.read())
    digest.update(_SW_TEMPLATE_MARK.encode())
    return digest.hexdigest()[:12]


_SW_TEMPLATE_MARK = "sw-1"


@require_GET
def field_sw(request):
    """The service worker, served under /field/ so that its scope is /field/ (no login: it holds no
    data; it caches pages only after the user has opened them while logged in)."""
    response = render(
        request,
        "field/sw.js",
        {
            "version": _shell_version(),
            "shell_json": json.dumps([static(name) for name in SHELL_STATIC] + [reverse("field_offline")]),
            # The bare prefix: static("") asks the manifest for a file named "" and fails in production.
            "static_prefix": PrefixNode.handle_simple("STATIC_URL"),
            "offline_url": reverse("field_offline"),
            "scope": reverse("field_tasks"),
        },
        content_type="application/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = reverse("field_tasks")
    response["Cache-Control"] = "no-cache"
    return response
