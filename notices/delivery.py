"""The SMS to persons as a flow of the outbox (tasks/outbox/): the push, the reminder and the answer
to feedback queue `NoticeDelivery` rows (channel "sms"); the outbox claims them with SKIP LOCKED,
sends them through NOTICE_SMS_BACKEND and records the outcome. A failure is retried with backoff (2, 4,
8 … ≤ 60 minutes, moved out of the quiet hours unless the notice is urgent), failed for good after
NOTICE_SMS_MAX_ATTEMPTS or when older than NOTICE_SMS_LATE_CUTOFF_MINUTES.

An SMS is **at-least-once**: a worker dying between the gateway's "accepted" and the commit leaves the
row pending and it is sent again (the gateway gets the row id as `client_ref` to drop the duplicate).
A missed isolation notice is worse than a duplicate SMS.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from tasks.outbox import Flow, Message, backoff_minutes
from tasks.outbox import deliver_step as outbox_step
from tasks.outbox.backends import BaseBackend

from . import sms
from .links import notice_link
from .models import NoticeDelivery, NoticeState
from .schedule import later

CANCELLED_REASON = "not needed any more: acknowledged or superseded before sending"


def sms_text(delivery: NoticeDelivery) -> str:
    notice = delivery.notice
    sign_name = settings.NOTICE_SMS_SIGNATURE
    link = notice_link(notice)
    if delivery.kind == NoticeDelivery.Kind.REMINDER:
        return f"【{sign_name}】提醒：您尚未确认“{notice.title}”，请打开 {link} 查看并确认，或回复1确认。"
    if delivery.kind == NoticeDelivery.Kind.ANSWER:
        return f"【{sign_name}】您对“{notice.title}”的反馈已有答复，请打开 {link} 查看。"
    return f"【{sign_name}】{notice.title}：{notice.text} 查看详情并确认：{link} 回复1确认收到。"


class NoticeSmsFlow(Flow):
    name = "notice_sms"
    model = NoticeDelivery
    related = ("notice", "notice__person")
    fields = ("status", "attempts", "sent_at", "last_error", "next_attempt_at", "gateway_id")

    def pending(self) -> QuerySet[NoticeDelivery]:
        # The pop-up rows are written as sent; only the SMS rows wait here.
        return NoticeDelivery.objects.filter(
            status=NoticeDelivery.Status.PENDING, channel=NoticeDelivery.Channel.SMS
        )

    def max_attempts(self) -> int:
        return int(settings.NOTICE_SMS_MAX_ATTEMPTS)

    def late_cutoff(self) -> timedelta:
        return timedelta(minutes=settings.NOTICE_SMS_LATE_CUTOFF_MINUTES)

    def cancel_reason(self, row: NoticeDelivery) -> str | None:
        if row.kind == NoticeDelivery.Kind.REMINDER and row.notice.state != NoticeState.PUSHED:
            return CANCELLED_REASON
        if not row.notice.person.phone:
            return "no phone"
        return None

    def backend(self, channel: str) -> BaseBackend:
        return sms.get_backend()

    def message(self, row: NoticeDelivery) -> Message:
        return Message(row.pk, row.channel, row.notice.person.phone, "", sms_text(row))

    def retry_at(self, row: NoticeDelivery, now: datetime) -> datetime:
        return later(now, backoff_minutes(row.attempts), row.notice.urgent)


FLOW = NoticeSmsFlow()


def deliver_step(*, now: datetime | None = None, limit: int = 100) -> int:
    """One delivery step of the notice SMS (claimed with SKIP LOCKED, index notice_delivery_pending);
    returns how many rows it claimed."""
    return outbox_step(FLOW, now=now, limit=limit)
