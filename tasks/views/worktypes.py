"""The task page (`/tasks/<id>/`): the person (masked by role), kind, status, outcome, clocks and
history, with the forms to change the kind, close, cancel and reopen; and the merge screen
(`/tasks/merge/?keep=&merge=`) that shows two tasks side by side. The rules are in tasks/worktypes.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from .. import hooks, worktypes
from ..access_log import record_access
from ..clocks import CLOCKS, clock_runs
from ..masking import sees_unmasked
from ..models import KIND_OUTCOMES, AccessAction, TaskKind, TaskOutcome, TracingTask, User
from ..roles import can
from ..selectors import get_visible_or_404


class AuthenticatedRequest(HttpRequest):
    """A request behind login_required: its user is an account, never anonymous."""

    user: User


ACTIONS = ("kind", "close", "cancel", "reopen")


def _task(request: AuthenticatedRequest, task_id: int) -> TracingTask:
    return get_visible_or_404(
        request.user, TracingTask.objects.select_related("division", "person", "merged_into"), pk=task_id
    )


ENDED = ("closed", "cancelled", "merged")


def _latest_review_id(task: TracingTask) -> int | None:
    """The review app sits above tasks: reached through its reverse relation, when it is installed."""
    reviews = getattr(task, "reviews", None)
    if reviews is None:
        return None
    return reviews.order_by("-pk").values_list("pk", flat=True).first()


# What each clock asks for, as the page names it (the identifiers stay in the API).
CLOCK_LABELS = {
    "dispatch": gettext_lazy("Dispatched by"),
    "radius": gettext_lazy("Radius limited by"),
    "trace": gettext_lazy("Trajectory traced by"),
    "rework": gettext_lazy("Resubmit by"),
    "verify": gettext_lazy("Verified by"),
    "register": gettext_lazy("Registered by"),
}


def _clock_rows(task: TracingTask) -> list[dict]:
    rows = []
    for clock in CLOCKS:
        due = getattr(task, clock.due_field)
        if due is None:
            continue
        rows.append(
            {
                "name": clock.name,
                "label": CLOCK_LABELS.get(clock.name, clock.name),
                "due": due,
                "met": getattr(task, clock.stop_field),
                "running": clock_runs(task, clock),
            }
        )
    return rows


def _run_action(request: AuthenticatedRequest, task: TracingTask, action: str) -> None:
    post = request.POST
    if action == "kind":
        worktypes.task_change_kind(
            task=task, actor=request.user, kind=post.get("kind", ""), reason=post.get("reason", "")
        )
    elif action == "close":
        worktypes.task_close(
            task=task, actor=request.user, outcome=post.get("outcome", ""), note=post.get("note", "")
        )
    elif action == "cancel":
        worktypes.task_cancel(task=task, actor=request.user, reason=post.get("reason", ""))
    elif action == "reopen":
        worktypes.task_reopen(task=task, actor=request.user, reason=post.get("reason", ""))


@login_required
@require_http_methods(["GET", "POST"])
def task_detail(request: AuthenticatedRequest, task_id: int) -> HttpResponse:
    if not can(request.user, "task.view"):
        raise PermissionDenied
    task = _task(request, task_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            messages.error(request, _("Unknown action."))
        else:
            try:
                _run_action(request, task, action)
                messages.success(request, _("Done."))
            except PermissionDenied:
                raise
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect("task_detail", task_id=task.pk)
    record_access(request, action=AccessAction.VIEW, objects=[task])
    user = request.user
    context = {
        "task": task,
        "unmasked": sees_unmasked(user),
        "clocks": _clock_rows(task),
        "history": task.transitions.select_related("actor").order_by("at", "id"),
        "kinds": TaskKind.choices,
        "outcomes": [
            (value, label) for value, label in TaskOutcome.choices if value in KIND_OUTCOMES[task.kind]
        ],
        "can_kind": worktypes.can_act(user, "task.kind", task),
        "can_close": worktypes.can_act(user, "task.close", task),
        "can_merge": worktypes.can_act(user, "task.merge", task),
        "can_transfer": can(user, "task.transfer") and task.status not in ENDED,
        "can_field": can(user, "task.fieldwork"),
        # Only the reviewing role reads reviews (over the tasks it sees): nobody else gets a dead link.
        "review_id": _latest_review_id(task) if can(user, "review.decide") else None,
        "sections": hooks.task_page_sections(task, user),
    }
    return render(request, "tasks/task_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def task_merge(request: AuthenticatedRequest) -> HttpResponse:
    """Two tasks side by side; the duty officer keeps one and merges the other into it."""
    if not can(request.user, "task.merge"):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    tasks = []
    error = ""
    for key in ("keep", "merge"):
        value = source.get(key, "").strip().lstrip("Tt")
        if value.isdigit():
            tasks.append(_task(request, int(value)))
    if request.method == "POST" and len(tasks) == 2:
        try:
            kept = worktypes.task_merge(
                keep=tasks[0], merge=tasks[1], actor=request.user, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("Merged."))
            return redirect("task_detail", task_id=kept.pk)
    if tasks:
        record_access(request, action=AccessAction.VIEW, objects=tasks)
    return render(
        request,
        "tasks/task_merge.html",
        {
            "tasks": tasks,
            "keep": source.get("keep", ""),
            "merge": source.get("merge", ""),
            "unmasked": sees_unmasked(request.user),
            "error": error,
        },
    )
