"""Reads of notices, scoped by territory (tasks.selectors.visible_to): outside it, nothing (a 404 on the
pages). Templates: the administrator's row of a category, else the default text (notices/rules.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db.models import QuerySet
from django.http import Http404

from notices import rules
from notices.models import (
    Notice,
    NoticeFeedback,
    NoticeFollowUp,
    NoticeState,
    NoticeTemplate,
)
from notices.permissions import STAFF_ROLES, desk_level
from tasks.selectors import visible_to

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tasks.models import User

    AnyUser = User | AnonymousUser


def notices_visible_to(user: AnyUser) -> QuerySet[Notice]:
    if not getattr(user, "is_authenticated", False) or not (
        user.is_superuser or getattr(user, "role", None) in STAFF_ROLES
    ):
        return Notice.objects.none()
    return visible_to(user, Notice.objects.all())


def get_notice_or_404(user: AnyUser, pk: int) -> Notice:
    try:
        return notices_visible_to(user).select_related("person", "task", "division").get(pk=pk)
    except (Notice.DoesNotExist, ValueError):
        raise Http404 from None


def review_queue(user: AnyUser, level: str) -> QuerySet[Notice]:
    state = NoticeState.COUNTY_REVIEW if level == "county" else NoticeState.CITY_REVIEW
    return (
        notices_visible_to(user)
        .filter(state=state)
        .select_related("person", "division", "task")
        .order_by("-urgent", "submitted_at", "id")
    )


def returned_to(user: AnyUser) -> QuerySet[Notice]:
    """Rejected notices waiting for correction: the submitter's, and all of the territory for a desk."""
    queryset = notices_visible_to(user).filter(
        state__in=[NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY]
    )
    if desk_level(user) is None and not user.is_superuser:
        queryset = queryset.filter(submitted_by=cast("User", user))
    return queryset.select_related("person", "division", "task").order_by("rejected_at", "id")


def feedback_visible_to(user: AnyUser) -> QuerySet[NoticeFeedback]:
    return NoticeFeedback.objects.filter(notice__in=notices_visible_to(user).values("pk")).select_related(
        "notice", "notice__person"
    )


def follow_ups_visible_to(user: AnyUser) -> QuerySet[NoticeFollowUp]:
    if not getattr(user, "is_authenticated", False):
        return NoticeFollowUp.objects.none()
    return visible_to(user, NoticeFollowUp.objects.select_related("notice", "notice__person", "unit"))


def template_for(category: str) -> tuple[str, str, bool]:
    row = NoticeTemplate.objects.filter(category=category).first()
    if row is not None:
        return row.title, row.body, row.urgent
    default = rules.DEFAULT_TEMPLATES[category]
    return default["title"], default["body"], default["urgent"]


def templates_by_category() -> dict[str, tuple[str, str, bool]]:
    found = {row.category: (row.title, row.body, row.urgent) for row in NoticeTemplate.objects.all()}
    return {
        category: found.get(category) or (d["title"], d["body"], d["urgent"])
        for category, d in rules.DEFAULT_TEMPLATES.items()
    }
