"""`{% load review_tags %}{% review_comments_for_task task %}`: what the experts said about a task, for
the pages of the field team (the latest decision with its reasons and deadline, and every review
comment, each with the entry it is about). Renders nothing when the task has never been reviewed."""

from django import template

from ..fieldwork_adapter import TARGET_MODELS, kind_of
from ..models import Review, ReviewComment, ReviewState

register = template.Library()


def _label(kind: str | None, target_id: int | None, labels: dict) -> str:
    return labels.get((kind, target_id), "")


@register.inclusion_tag("reviews/includes/comments_for_task.html")
def review_comments_for_task(task):
    comments = list(
        ReviewComment.objects.filter(task=task)
        .select_related("author", "review")
        .order_by("created_at", "id")
    )
    decision = (
        Review.objects.filter(task=task, state=ReviewState.DECIDED)
        .select_related("expert")
        .order_by("-decided_at", "-id")
        .first()
    )
    labels = {}
    wanted: dict[str, set[int]] = {}
    for comment in comments:
        comment.kind = kind_of(comment.target_type_id)
        if comment.kind:
            wanted.setdefault(comment.kind, set()).add(comment.target_id)
    for kind, ids in wanted.items():
        for obj in TARGET_MODELS[kind].objects.filter(pk__in=ids):
            labels[(kind, obj.pk)] = str(getattr(obj, "place_name", "") or getattr(obj, "name", "") or obj)
    for comment in comments:
        comment.target_label = _label(comment.kind, comment.target_id, labels)
    return {"comments": comments, "decision": decision, "task": task}
