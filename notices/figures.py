"""Aggregate figures of notices: the public display board (no names, no numbers of a person) and the
evaluation per division (accuracy, timeliness, acknowledgement, feedback)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import Substr
from django.utils import timezone

from notices.models import (
    BoardMessage,
    Notice,
    NoticeFeedback,
    NoticeSource,
)
from notices.selectors import notices_visible_to
from tasks.models import Division

if TYPE_CHECKING:
    pass


def board(*, now: datetime | None = None) -> dict:
    """The public display board: active aggregate messages and, per county, how many notices went out
    in the last 24 hours and how many were acknowledged. No names, no numbers of a person."""
    now = now or timezone.now()
    messages = list(
        BoardMessage.objects.filter(published_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("division")[:50]
    )
    counts = list(
        Notice.objects.filter(pushed_at__gte=now - timedelta(hours=24), pushed_at__lte=now)
        .annotate(county=Substr("division_id", 1, 6))
        .values("county")
        .annotate(pushed=Count("id"), acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)))
        .order_by("county")
    )
    names = dict(
        Division.objects.filter(code__in=[row["county"] for row in counts]).values_list("code", "name")
    )
    named = [{**row, "name": names.get(row["county"], row["county"])} for row in counts]
    return {"messages": messages, "counts": named}


def _minutes(value) -> float | None:
    return round(value.total_seconds() / 60, 1) if value is not None else None


def evaluation(
    *, user, start: datetime, end: datetime, division: str | None = None, level: int = 6
) -> list[dict]:
    """Figures per division (county by default; level = code length 4/6/9) for notices pushed in
    [start, end): accuracy (1 − share corrected after feedback), timeliness (approval → push, share on
    time, push → acknowledgement), acknowledgement rate, feedback answered within the target."""
    queryset = notices_visible_to(user).filter(pushed_at__gte=start, pushed_at__lt=end)
    if division:
        queryset = queryset.filter(division__code__startswith=division)
    minutes = lambda a, b: ExpressionWrapper(F(a) - F(b), output_field=DurationField())  # noqa: E731
    rows = list(
        queryset.annotate(area=Substr("division_id", 1, level))
        .values("area")
        .annotate(
            pushed=Count("id"),
            acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
            on_time=Count("id", filter=Q(pushed_at__lte=F("push_due"))),
            corrected=Count("id", filter=Q(superseded_by__source=NoticeSource.CORRECTION)),
            approval_to_push=Avg(minutes("pushed_at", "approved_at")),
            push_to_ack=Avg(minutes("acknowledged_at", "pushed_at"), filter=Q(acknowledged_at__isnull=False)),
            followed_up=Count("id", filter=Q(followed_up_at__isnull=False)),
        )
        .order_by("area")
    )
    feedback = {
        row["area"]: row
        for row in NoticeFeedback.objects.filter(notice__in=queryset.values("pk"))
        .annotate(area=Substr("notice__division_id", 1, level))
        .values("area")
        .annotate(
            total=Count("id"),
            in_time=Count("id", filter=Q(answered_at__isnull=False, answered_at__lte=F("due_at"))),
        )
    }
    names = dict(Division.objects.filter(code__in=[row["area"] for row in rows]).values_list("code", "name"))
    result = []
    for row in rows:
        pushed = row["pushed"] or 1
        fb = feedback.get(row["area"], {"total": 0, "in_time": 0})
        result.append(
            {
                "division": row["area"],
                "name": names.get(row["area"], row["area"]),
                "pushed": row["pushed"],
                "acknowledged": row["acknowledged"],
                "acknowledgement_rate": round(row["acknowledged"] / pushed, 3),
                "corrected": row["corrected"],
                "accuracy": round(1 - row["corrected"] / pushed, 3),
                "pushed_on_time_rate": round(row["on_time"] / pushed, 3),
                "approval_to_push_minutes": _minutes(row["approval_to_push"]),
                "push_to_ack_minutes": _minutes(row["push_to_ack"]),
                "followed_up": row["followed_up"],
                "feedback": fb["total"],
                "feedback_in_time": fb["in_time"],
                "feedback_in_time_rate": round(fb["in_time"] / fb["total"], 3) if fb["total"] else None,
            }
        )
    return result
