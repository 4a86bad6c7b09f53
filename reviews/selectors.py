"""Reads of the expert review. Every review is reached through its task, and every task through
tasks.selectors.tasks_visible_to: the expert's territory plus the tasks shared with them (guardian
`tasks.view_tracingtask`). Outside that a review does not exist (404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, DurationField, ExpressionWrapper, F, Prefetch, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from tasks.models import TaskStatus, TracingTask
from tasks.roles import can
from tasks.selectors import tasks_visible_to

from .models import OPEN_STATES, Finding, Review, ReviewComment

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class QueueAnnotations(TypedDict):
    waiting: timedelta
    errors: int
    warnings: int
    infos: int


def reviews_visible_to(user) -> QuerySet[Review]:
    """Reviews of the tasks `user` sees. Only CDC experts see reviews at all."""
    if not can(user, "review.decide"):
        return Review.objects.none()
    return Review.objects.filter(task__in=tasks_visible_to(user).values("pk"))


def review_queue(user, *, now: datetime | None = None) -> QuerySet[WithAnnotations[Review, QueueAnnotations]]:
    """The open reviews of submitted tasks `user` sees, highest priority first (P1 before P6), then
    the longest waiting; each with `waiting` (now − submission) and its finding counts."""
    now = now or timezone.now()
    return (
        reviews_visible_to(user)
        .filter(state__in=OPEN_STATES, task__status=TaskStatus.SUBMITTED)
        .select_related("task", "task__person", "task__division", "expert", "assigned_by")
        .annotate(
            waiting=ExpressionWrapper(Value(now) - F("submitted_at"), output_field=DurationField()),
            errors=Count("findings", filter=Q(findings__severity="error")),
            warnings=Count("findings", filter=Q(findings__severity="warning")),
            infos=Count("findings", filter=Q(findings__severity="info")),
        )
        .order_by("task__priority", "submitted_at", "id")
    )


def get_review_or_404(user, pk: int) -> Review:
    """Fetch and authorise in one step (healthchecks `_get_rw_check_for_user`)."""
    try:
        return (
            reviews_visible_to(user)
            .select_related("task", "task__person", "task__division", "expert")
            .get(pk=pk)
        )
    except (Review.DoesNotExist, ValueError, TypeError):  # a non-numeric id names no review either
        raise Http404 from None


def review_detail(review: Review) -> Review:
    """The review with its findings and comments loaded."""
    return (
        Review.objects.filter(pk=review.pk)
        .select_related("task", "task__person", "task__division", "expert", "assigned_by")
        .prefetch_related(
            Prefetch("findings", queryset=Finding.objects.order_by("id")),
            Prefetch(
                "comments",
                queryset=ReviewComment.objects.select_related("author").order_by("created_at", "id"),
            ),
        )
        .get()
    )


def comments_for_task(user, task_id: int) -> QuerySet[ReviewComment]:
    """Review comments on a task, for anyone who may see the task (the field team reads the comments
    of a return on its own task); 404 when the task is not visible."""
    if not can(user, "task.view") or not tasks_visible_to(user).filter(pk=task_id).exists():
        raise Http404
    return (
        ReviewComment.objects.filter(task_id=task_id)
        .select_related("author", "review", "target_type")
        .order_by("created_at", "id")
    )


def reviews_of_task(task_id: int) -> QuerySet[Review]:
    return Review.objects.filter(task_id=task_id).select_related("expert").order_by("round")


def latest_return_reasons(task_ids: list[int]) -> dict[int, dict]:
    """The latest return of each task: the expert's reasons, when and by whom (one query); shown to the
    field team on its pages through tasks.hooks."""
    found: dict[int, dict] = {}
    for review in (
        Review.objects.filter(task_id__in=task_ids, decision="return")
        .select_related("expert")
        .order_by("task_id", "-decided_at", "-id")
    ):
        found.setdefault(
            review.task_id,
            {
                "reasons": review.reasons,
                "at": review.decided_at,
                "by": getattr(review.expert, "display_name", ""),
            },
        )
    return found


def comments_for_field(task: TracingTask) -> tuple[list, dict[tuple[str, int], list]]:
    """The experts' comments on a task: (on the task as a whole, {(model name, entry id): comments})."""
    general: list = []
    by_entry: dict[tuple[str, int], list] = {}
    for comment in (
        ReviewComment.objects.filter(task=task)
        .select_related("author", "target_type", "review")
        .order_by("created_at", "id")
    ):
        if comment.target_type is not None and comment.target_id is not None:
            by_entry.setdefault((comment.target_type.model, comment.target_id), []).append(comment)
        else:
            general.append(comment)
    return general, by_entry
