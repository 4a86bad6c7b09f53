"""Dispatch pages (issue 4): resolve an unresolved task with a division picker, the receipt view ("who
has not confirmed"), transfer request and the receiving desk's inbox, the notification inbox, and bulk
re-assignment. Small views: fetch through the scope selectors (404 outside the territory), call one
service, show its error; the rules are in tasks/workflow.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .. import workflow
from ..models import Division, Notification, TaskStatus, TracingTask, Transfer, Unit
from ..notify import link as notification_link
from ..notify import notifications_mark_read, unread_count
from ..notify import render as render_notification
from ..roles import can
from ..selectors import (
    accounts_visible_to,
    get_visible_or_404,
    pending_transfer_for_receiver_or_404,
    tasks_visible_to,
    transfers_visible_to,
    units_visible_to,
)

PAGE_SIZE = 50


def _require(user, capability: str) -> None:
    if not can(user, capability):
        raise PermissionDenied


def _errors(exc: ValidationError) -> list[str]:
    return exc.messages


def _task(request, task_id: int) -> TracingTask:
    return get_visible_or_404(
        request.user, TracingTask.objects.select_related("division", "person"), pk=task_id
    )


@login_required
@require_http_methods(["GET", "POST"])
def task_resolve(request, task_id: int):
    """The duty desk picks the village of an unresolved task; it dispatches at once."""
    _require(request.user, "task.resolve")
    task = _task(request, task_id)
    if request.method == "POST":
        try:
            workflow.task_resolve_division(
                task=task, actor=request.user, division_code=request.POST.get("division_code", "").strip()
            )
        except (ValidationError, PermissionDenied) as exc:
            for message in _errors(exc) if isinstance(exc, ValidationError) else [str(exc)]:
                messages.error(request, message)
        else:
            messages.success(request, _("Task T%(id)s was dispatched.") % {"id": task.pk})
            return redirect(request.POST.get("next") or "unresolved_queue")
    return render(request, "dispatch/resolve.html", {"task": task, "next": request.GET.get("next", "")})


@login_required
def receipts(request):
    """Dispatched tasks whose sub-unit has not confirmed receipt (回单), oldest first."""
    _require(request.user, "task.view")
    waiting = (
        tasks_visible_to(request.user)
        .filter(status=TaskStatus.DISPATCHED)
        .select_related("division", "subunit", "assignee")
        .order_by("dispatched_at", "id")
    )
    page = Paginator(waiting, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "tasks": page.object_list,
        "now": timezone.now(),
        "can_receive": can(request.user, "task.receive"),
    }
    return render(request, "dispatch/receipts.html", context)


@login_required
@require_POST
def task_receive(request, task_id: int):
    task = _task(request, task_id)
    try:
        workflow.task_receive(task=task, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(
            request, exc.messages[0] if isinstance(exc, ValidationError) else _("Your role may not do this.")
        )
    else:
        messages.success(request, _("Receipt of task T%(id)s confirmed.") % {"id": task.pk})
    return redirect(request.POST.get("next") or "receipts")


@login_required
@require_http_methods(["GET", "POST"])
def task_transfer(request, task_id: int):
    _require(request.user, "task.transfer")
    task = _task(request, task_id)
    if request.method == "POST":
        try:
            workflow.task_transfer(
                task=task,
                actor=request.user,
                division_code=request.POST.get("division_code", ""),
                reason=request.POST.get("reason", ""),
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Transfer of task T%(id)s requested.") % {"id": task.pk})
            return redirect("transfer_inbox")
    return render(request, "dispatch/transfer.html", {"task": task})


PICK_LIMIT = 20


@login_required
@require_http_methods(["GET"])
def division_pick(request: HttpRequest) -> JsonResponse:
    """The transfer picker: a target may lie outside the caller's own area, so it searches the whole
    tree, and answers only code, name and level (no scoped data behind a division)."""
    _require(request.user, "task.transfer")
    q = request.GET.get("q", "").strip()[:50]
    if not q:
        return JsonResponse({"results": []})
    divisions = (
        Division.objects.filter(code__startswith=q)
        if q.isdigit()
        else Division.objects.filter(name__contains=q)
    )
    rows = list(divisions.order_by("code").values("code", "name", "level")[:PICK_LIMIT])
    return JsonResponse({"results": rows})


@login_required
def transfer_inbox(request):
    """Incoming (pending, addressed to the territory: accept or reject) and outgoing transfers."""
    user = request.user
    visible = transfers_visible_to(user)
    prefix = "" if user.is_superuser else (user.division_id or "")
    incoming = visible.filter(status=Transfer.Status.PENDING, to_division__code__startswith=prefix).order_by(
        "requested_at"
    )
    outgoing = visible.filter(from_division__code__startswith=prefix).order_by("-requested_at")[:100]
    context = {"incoming": incoming, "outgoing": outgoing, "can_decide": can(user, "task.transfer_decide")}
    return render(request, "dispatch/transfers.html", context)


@login_required
@require_POST
def transfer_decide(request, task_id: int, decision: str):
    _require(request.user, "task.transfer_decide")
    transfer = pending_transfer_for_receiver_or_404(request.user, task_id)
    try:
        if decision == "accept":
            workflow.task_transfer_accept(task=transfer.task, actor=request.user)
            messages.success(request, _("Transfer of task T%(id)s accepted.") % {"id": task_id})
        elif decision == "reject":
            workflow.task_transfer_reject(
                task=transfer.task, actor=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Transfer of task T%(id)s rejected.") % {"id": task_id})
        else:
            raise Http404
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("transfer_inbox")


@login_required
def notification_inbox(request):
    rows = (
        Notification.objects.filter(recipient=request.user)
        .select_related("task")
        .order_by("-created_at", "-id")
    )
    if request.GET.get("unread"):
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = [(n, *render_notification(n), notification_link(n)) for n in page.object_list]
    return render(
        request,
        "dispatch/notifications.html",
        {"page": page, "items": items, "unread": unread_count(request.user)},
    )


@login_required
@require_POST
def notifications_read(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    notifications_mark_read(user=request.user, ids=ids or None)
    return redirect("notification_inbox")


@login_required
@require_http_methods(["GET", "POST"])
def bulk_assign(request):
    """Re-assign many selected tasks: to a person, or to a sub-unit (its members share them by load).
    The list can be narrowed to unassigned tasks, a status and a division."""
    _require(request.user, "task.assign")
    user = request.user
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("task_ids") if i.isdigit()]
        assignee_id, subunit_id = request.POST.get("assignee", ""), request.POST.get("subunit", "")
        try:
            assignee = (
                get_object_or_404(accounts_visible_to(user), pk=assignee_id)
                if assignee_id.isdigit()
                else None
            )
            subunit = (
                get_object_or_404(units_visible_to(user), pk=subunit_id) if subunit_id.isdigit() else None
            )
            count = workflow.task_assign_bulk(
                task_ids=ids,
                actor=user,
                assignee=assignee,
                subunit=subunit,
                reason=request.POST.get("reason", ""),
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("%(count)s tasks re-assigned.") % {"count": count})
        return redirect(request.get_full_path())
    tasks = (
        tasks_visible_to(user)
        .filter(status__in=workflow.ASSIGNABLE)
        .select_related("division", "subunit", "assignee")
    )
    if request.GET.get("unassigned"):
        tasks = tasks.filter(assignee__isnull=True)
    if status := request.GET.get("status"):
        tasks = tasks.filter(status=status)
    if (division := request.GET.get("division", "").strip()).isdigit():
        tasks = tasks.filter(division__code__startswith=division)
    page = Paginator(tasks.order_by("priority", "dispatched_at", "id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "tasks": page.object_list,
        "assignees": accounts_visible_to(user)
        .filter(role__in=workflow.ASSIGNEE_ROLES, is_active=True)
        .order_by("division_id", "username")[:500],
        "subunits": units_visible_to(user).filter(kind=Unit.Kind.SUBUNIT).order_by("division_id")[:500],
        "statuses": [(s, TaskStatus(s).label) for s in sorted(workflow.ASSIGNABLE)],
        "filters": request.GET,
    }
    return render(request, "dispatch/bulk_assign.html", context)
