"""What the person does with a notice (acknowledge on the page or by SMS reply, feedback) and the desk's
answer to the feedback (an explanation, or a corrected notice that is reviewed again)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from notices.errors import NoticeConflict
from notices.models import (
    AckChannel,
    Notice,
    NoticeDelivery,
    NoticeFeedback,
    NoticeSource,
    NoticeState,
)
from notices.permissions import can_review
from notices.services.review import check_text

if TYPE_CHECKING:
    from tasks.models import User


def notice_acknowledge(*, notice: Notice, channel: str, now: datetime | None = None) -> bool:
    """Pushed → acknowledged, once (conditional UPDATE). False when it already was."""
    now = now or timezone.now()
    updated = Notice.objects.filter(pk=notice.pk, state=NoticeState.PUSHED).update(
        state=NoticeState.ACKNOWLEDGED, acknowledged_at=now, ack_channel=channel
    )
    return updated == 1


def notice_opened(*, notice: Notice, now: datetime | None = None) -> None:
    Notice.objects.filter(pk=notice.pk, first_opened_at__isnull=True).update(
        first_opened_at=now or timezone.now()
    )


ACK_WORDS = {"1", "确认", "收到", "已收到", "是", "好", "ok", "y", "yes"}


def _phone_hash(phone: str) -> str:
    from tasks.validation import phone_hash

    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return phone_hash(digits)


def _notices_sent_to(phone: str) -> QuerySet[Notice]:
    # Phones are encrypted at rest (tasks/crypto.py): the keyed hash of the number the notice was sent to
    # is the only way to match one.
    return Notice.objects.filter(phone_hash=_phone_hash(phone), pushed_at__isnull=False)


def sms_inbound(*, sender: str, text: str, message_id: str = "", now: datetime | None = None) -> dict:
    """A reply from a phone: an acknowledgement word acknowledges the latest pushed notice sent to that
    number; any other text becomes feedback on it. Returns what was done (for the gateway). `message_id`
    is the gateway's id of the message: a check-in reply delivered again is recorded once."""
    now = now or timezone.now()
    words = (text or "").strip()
    # A monitored person answering the check-in reminder ("36.5", "36.8 咳嗽", "正常"): a check-in.
    from monitoring.services.replies import checkin_from_sms

    checkin = checkin_from_sms(phone_hash=_phone_hash(sender), text=words, message_id=message_id, now=now)
    if checkin is not None:
        return checkin
    notices = _notices_sent_to(sender)
    if words.lower() in ACK_WORDS:
        notice = notices.filter(state=NoticeState.PUSHED).order_by("-pushed_at", "-id").first()
        if notice is None:
            return {"result": "nothing_to_acknowledge"}
        notice_acknowledge(notice=notice, channel=AckChannel.SMS, now=now)
        return {"result": "acknowledged", "notice": notice.pk}
    notice = (
        notices.filter(state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED])
        .order_by("-pushed_at", "-id")
        .first()
    )
    if notice is None or not words:
        return {"result": "ignored"}
    feedback = feedback_submit(notice=notice, text=words, now=now)
    return {"result": "feedback", "notice": notice.pk, "feedback": feedback.pk}


@transaction.atomic
def feedback_submit(*, notice: Notice, text: str, now: datetime | None = None) -> NoticeFeedback:
    now = now or timezone.now()
    text = (text or "").strip()[:2000]
    if not text:
        raise ValidationError({"text": _("Write what is wrong with the notice.")})
    if notice.state not in (NoticeState.PUSHED, NoticeState.ACKNOWLEDGED):
        raise NoticeConflict(_("This notice no longer takes feedback."), "closed")
    if NoticeFeedback.objects.filter(notice=notice, state=NoticeFeedback.State.OPEN).count() >= 3:
        raise NoticeConflict(_("Your earlier feedback is still being verified."), "too_many")
    due = now + timedelta(hours=settings.NOTICE_FEEDBACK_TARGET_HOURS)
    return NoticeFeedback.objects.create(notice=notice, text=text, created_at=now, due_at=due)


@transaction.atomic
def feedback_answer(
    *,
    feedback: NoticeFeedback,
    actor: User,
    answer: str,
    corrected_text: str = "",
    now: datetime | None = None,
) -> NoticeFeedback:
    """The desk answers. With `corrected_text` the notice was wrong: a corrected notice (source
    correction) supersedes it and goes through both review levels; the old link keeps showing the
    answer. Without, the desk explains. Either way the answer reaches the person (page + SMS)."""
    now = now or timezone.now()
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write the answer to the person.")})
    if not can_review(actor, "county") and not can_review(actor, "city"):
        raise PermissionDenied(_("Only a county or city duty desk answers feedback."))
    feedback = (
        NoticeFeedback.objects.select_for_update(of=("self",))
        .select_related("notice", "notice__person", "notice__task")
        .get(pk=feedback.pk)
    )
    if feedback.state != NoticeFeedback.State.OPEN:
        raise NoticeConflict(_("This feedback has already been answered."), "answered")
    notice = feedback.notice
    if corrected_text.strip():
        check_text(notice, notice.title, corrected_text.strip())
        if (
            Notice.objects.filter(
                pk=notice.pk, state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED]
            ).update(state=NoticeState.SUPERSEDED)
            != 1
        ):
            raise NoticeConflict(_("This notice has already been corrected."), "superseded")
        try:
            Notice.objects.create(
                person_id=notice.person_id,
                task_id=notice.task_id,
                division_id=notice.division_id,
                source=NoticeSource.CORRECTION,
                supersedes=notice,
                category=notice.category,
                title=notice.title,
                text=corrected_text.strip(),
                variables=notice.variables,
                urgent=notice.urgent,
                state=NoticeState.COUNTY_REVIEW,
                created_at=now,
                submitted_by=actor,
                submitted_at=now,
            )
        except IntegrityError as exc:
            raise NoticeConflict(_("This notice has already been corrected."), "superseded") from exc
        feedback.state = NoticeFeedback.State.CORRECTED
    else:
        feedback.state = NoticeFeedback.State.EXPLAINED
    feedback.answer, feedback.answered_by, feedback.answered_at = answer, actor, now
    feedback.save(update_fields=["state", "answer", "answered_by", "answered_at"])
    if notice.person.phone:
        NoticeDelivery.objects.bulk_create(
            [
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.SMS,
                    kind=NoticeDelivery.Kind.ANSWER,
                    created_at=now,
                    next_attempt_at=now,
                )
            ],
            ignore_conflicts=True,
        )
    return feedback
