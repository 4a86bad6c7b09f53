"""The two-level review of a notice: the county desk passes it on, the city desk approves it for the push
(never the same account at both levels); either rejects it with a reason back to the submitter, who
corrects and resubmits it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notices import rules
from notices.errors import NoticeConflict
from notices.models import (
    Notice,
    NoticeState,
)
from notices.permissions import can_review
from notices.schedule import push_schedule

if TYPE_CHECKING:
    from tasks.models import User


def _lock(notice: Notice) -> Notice:
    return Notice.objects.select_for_update().get(pk=notice.pk)


@transaction.atomic
def notice_approve(*, notice: Notice, actor: User, now: datetime | None = None) -> Notice:
    """The county desk passes a notice on to the city desk; the city desk approves it for the push.
    The level is the actor's (desk_level); the same account can never hold both."""
    now = now or timezone.now()
    notice = _lock(notice)
    if notice.state == NoticeState.COUNTY_REVIEW and can_review(actor, "county"):
        notice.state, notice.county_reviewer, notice.county_reviewed_at = NoticeState.CITY_REVIEW, actor, now
        notice.save(update_fields=["state", "county_reviewer", "county_reviewed_at"])
        return notice
    if notice.state == NoticeState.CITY_REVIEW and can_review(actor, "city"):
        if notice.county_reviewer_id == actor.pk:
            raise NoticeConflict(
                _("The county reviewer cannot also give the city approval."), "same_reviewer"
            )
        notice.state, notice.city_reviewer, notice.city_reviewed_at = NoticeState.APPROVED, actor, now
        notice.approved_at = now
        notice.push_after, notice.push_due = push_schedule(now, notice.urgent)
        notice.save(
            update_fields=[
                "state",
                "city_reviewer",
                "city_reviewed_at",
                "approved_at",
                "push_after",
                "push_due",
            ]
        )
        return notice
    if notice.state in (NoticeState.COUNTY_REVIEW, NoticeState.CITY_REVIEW):
        raise PermissionDenied(_("This notice waits for the other review level."))
    raise NoticeConflict(_("This notice is not waiting for a review."), "not_in_review")


@transaction.atomic
def notice_reject(*, notice: Notice, actor: User, reason: str, now: datetime | None = None) -> Notice:
    """Back to the submitter with a reason (the "returned" list of the county desk and the submitter)."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the notice is rejected.")})
    notice = _lock(notice)
    if notice.state == NoticeState.COUNTY_REVIEW and can_review(actor, "county"):
        notice.state, notice.county_reviewer, notice.county_reviewed_at = (
            NoticeState.REJECTED_COUNTY,
            actor,
            now,
        )
    elif notice.state == NoticeState.CITY_REVIEW and can_review(actor, "city"):
        notice.state, notice.city_reviewer, notice.city_reviewed_at = NoticeState.REJECTED_CITY, actor, now
    elif notice.state in (NoticeState.COUNTY_REVIEW, NoticeState.CITY_REVIEW):
        raise PermissionDenied(_("This notice waits for the other review level."))
    else:
        raise NoticeConflict(_("This notice is not waiting for a review."), "not_in_review")
    notice.rejection_reason, notice.rejected_by, notice.rejected_at = reason, actor, now
    notice.rejections += 1
    notice.save(
        update_fields=[
            "state",
            "county_reviewer",
            "county_reviewed_at",
            "city_reviewer",
            "city_reviewed_at",
            "rejection_reason",
            "rejected_by",
            "rejected_at",
            "rejections",
        ]
    )
    return notice


def check_text(notice: Notice, title: str, text: str) -> None:
    rules.validate_template_text(title, field="title")
    rules.validate_template_text(text, field="text")
    try:
        rules.assert_no_identifiers(
            title + "\n" + text,
            secrets=rules.secrets_of(
                notice.person.id_number, notice.task.address if notice.task is not None else ""
            ),
        )
    except rules.NoticeUnsafe as exc:
        raise ValidationError(
            {"text": _("A notice may never contain the ID number, a phone number or an address.")}
        ) from exc


@transaction.atomic
def notice_resubmit(
    *,
    notice: Notice,
    actor: User,
    title: str,
    text: str,
    urgent: bool | None = None,
    now: datetime | None = None,
) -> Notice:
    """Correct a rejected (or draft) notice and send it to the county desk again; both levels review anew."""
    now = now or timezone.now()
    notice = _lock(notice)
    if notice.state not in (NoticeState.DRAFT, NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY):
        raise NoticeConflict(
            _("Only a draft or a rejected notice can be corrected and resubmitted."), "not_rejected"
        )
    if not (notice.submitted_by_id == actor.pk or can_review(actor, "county")):
        raise PermissionDenied(_("Only the submitter or the county desk corrects a notice."))
    title, text = (title or "").strip(), (text or "").strip()
    if not title or not text:
        raise ValidationError({"text": _("The title and the text are required.")})
    check_text(notice, title, text)
    notice.title, notice.text = title, text
    if urgent is not None:
        notice.urgent = urgent
    notice.state, notice.version = NoticeState.COUNTY_REVIEW, notice.version + 1
    notice.submitted_by, notice.submitted_at = actor, now
    notice.county_reviewer = notice.city_reviewer = None
    notice.county_reviewed_at = notice.city_reviewed_at = None
    notice.save()
    return notice
