"""`{% load review_tags %}{% review_comments_for_task task %}`: what the experts said about a task, for
the pages of the field team (the latest decision with its reasons and deadline, and every review
comment, each with the entry it is about). Renders nothing when the task has never been reviewed."""

from dataclasses import dataclass
from typing import Any

from django import template

from tasks.models import TracingTask

from ..fieldwork_adapter import TARGET_MODELS, kind_of
from ..models import Review, ReviewComment, ReviewState

register = template.Library()


@dataclass
class CommentRow:
    """A comment with the label of the entry it is about; the template reads the comment's own fields
    through it."""

    comment: ReviewComment
    kind: str | None
    target_label: str = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.comment, name)


@register.inclusion_tag("reviews/includes/comments_for_task.html")
def review_comments_for_task(task: TracingTask) -> dict[str, Any]:
    comments = [
        CommentRow(comment, kind_of(comment.target_type_id))
        for comment in ReviewComment.objects.filter(task=task)
        .select_related("author", "review")
        .order_by("created_at", "id")
    ]
    decision = (
        Review.objects.filter(task=task, state=ReviewState.DECIDED)
        .select_related("expert")
        .order_by("-decided_at", "-id")
        .first()
    )
    labels: dict[tuple[str, int], str] = {}
    wanted: dict[str, set[int]] = {}
    for row in comments:
        if row.kind and row.comment.target_id is not None:
            wanted.setdefault(row.kind, set()).add(row.comment.target_id)
    for kind, ids in wanted.items():
        for obj in TARGET_MODELS[kind].objects.filter(pk__in=ids):
            labels[(kind, obj.pk)] = str(getattr(obj, "place_name", "") or getattr(obj, "name", "") or obj)
    for row in comments:
        if row.kind and row.comment.target_id is not None:
            row.target_label = labels.get((row.kind, row.comment.target_id), "")
    return {"comments": comments, "decision": decision, "task": task}
