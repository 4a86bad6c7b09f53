"""The timed steps of a notice after its approval: the push (personal link, pop-up live, SMS queued), one
reminder, then a follow-up item for the village sub-unit. Steps claim their rows with
`SELECT … FOR UPDATE SKIP LOCKED` and return how many they handled (looped by the notices_push and
notices_remind commands and their beat jobs).

The push is **exactly once per notice**: the step moves the claimed notices to `pushed` in the same
transaction that writes their delivery rows (unique per notice, channel and kind), so two workers never
push one notice twice. The SMS themselves go out through the outbox (notices/delivery.py)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notices.errors import NoticeConflict
from notices.links import token_for, token_hash
from notices.models import (
    Notice,
    NoticeDelivery,
    NoticeFollowUp,
    NoticeState,
)
from notices.schedule import later
from tasks.models import Unit

if TYPE_CHECKING:
    from tasks.models import User


def push_step(*, now: datetime | None = None, limit: int = 200) -> int:
    """Claim approved notices whose push time has come (SKIP LOCKED, index notice_push_due), give each its
    personal link, open the pop-up, queue the SMS. Exactly once per notice (module docstring)."""
    now = now or timezone.now()
    ttl = timedelta(days=settings.NOTICE_LINK_TTL_DAYS)
    remind = settings.NOTICE_ACK_REMINDER_MINUTES
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=NoticeState.APPROVED, push_after__lte=now)
            .select_related("person")
            .order_by("push_after", "id")[:limit]
        )
        if not rows:
            return 0
        deliveries = []
        for notice in rows:
            notice.state, notice.pushed_at = NoticeState.PUSHED, now
            notice.token_salt = secrets.token_hex(16)
            notice.token_hash = token_hash(token_for(notice))
            notice.token_expires_at = now + ttl
            notice.remind_at = later(now, remind, notice.urgent)
            deliveries.append(
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.POPUP,
                    status=NoticeDelivery.Status.SENT,
                    attempts=1,
                    created_at=now,
                    next_attempt_at=now,
                    sent_at=now,
                )
            )
            notice.phone_hash = notice.person.phone_hash if notice.person.phone else ""
            if notice.person.phone:
                deliveries.append(
                    NoticeDelivery(
                        notice=notice, channel=NoticeDelivery.Channel.SMS, created_at=now, next_attempt_at=now
                    )
                )
        Notice.objects.bulk_update(
            rows,
            ["state", "pushed_at", "token_salt", "token_hash", "token_expires_at", "remind_at", "phone_hash"],
        )
        NoticeDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(rows)


def remind_step(*, now: datetime | None = None, limit: int = 500) -> int:
    """(1) Pushed notices not acknowledged by `remind_at`: one reminder (SMS, and the pop-up shows it),
    `escalate_at` set. (2) Reminded and still not acknowledged by `escalate_at`: a follow-up item for the
    village sub-unit. Both claim with SKIP LOCKED; returns how many notices were handled."""
    now = now or timezone.now()
    escalate = settings.NOTICE_ESCALATE_MINUTES
    handled = 0
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=NoticeState.PUSHED, reminder_sent_at__isnull=True, remind_at__lte=now)
            .select_related("person")
            .order_by("remind_at", "id")[:limit]
        )
        deliveries = []
        for notice in rows:
            notice.reminder_sent_at = now
            notice.escalate_at = later(now, escalate, notice.urgent)
            deliveries.append(
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.POPUP,
                    kind=NoticeDelivery.Kind.REMINDER,
                    status=NoticeDelivery.Status.SENT,
                    attempts=1,
                    created_at=now,
                    sent_at=now,
                )
            )
            if notice.person.phone:
                deliveries.append(
                    NoticeDelivery(
                        notice=notice,
                        channel=NoticeDelivery.Channel.SMS,
                        kind=NoticeDelivery.Kind.REMINDER,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        Notice.objects.bulk_update(rows, ["reminder_sent_at", "escalate_at"])
        NoticeDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        handled += len(rows)
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                state=NoticeState.PUSHED,
                reminder_sent_at__isnull=False,
                followed_up_at__isnull=True,
                escalate_at__lte=now,
            )
            .order_by("escalate_at", "id")[:limit]
        )
        if rows:
            units = dict(
                Unit.objects.filter(
                    kind=Unit.Kind.SUBUNIT, division_id__in={n.division_id for n in rows}
                ).values_list("division_id", "pk")
            )
            NoticeFollowUp.objects.bulk_create(
                [
                    NoticeFollowUp(
                        notice=n, unit_id=units.get(n.division_id), division_id=n.division_id, created_at=now
                    )
                    for n in rows
                ],
                ignore_conflicts=True,
            )
            for notice in rows:
                notice.followed_up_at = now
            Notice.objects.bulk_update(rows, ["followed_up_at"])
        handled += len(rows)
    return handled


@transaction.atomic
def follow_up_done(
    *, follow_up: NoticeFollowUp, actor: User, note: str = "", now: datetime | None = None
) -> NoticeFollowUp:
    updated = NoticeFollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
        done_at=now or timezone.now(), done_by=actor, note=(note or "").strip()
    )
    if not updated:
        raise NoticeConflict(_("This follow-up is already done."), "done")
    follow_up.refresh_from_db()
    return follow_up
