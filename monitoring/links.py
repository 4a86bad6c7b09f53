"""The person's own check-in link, /c/<token>/ (like the notices' /n/<token>/).

Only a SHA-256 of the token is stored (MonitoringPeriod.link_token_hash). The token is derived from the
period with NOTICE_TOKEN_KEY (default SECRET_KEY), a key the database does not hold, so the SMS step
can put the link in the message without the database ever holding it. The link works from the first
day of the period until CHECKIN_LINK_GRACE_DAYS after its last day, and only while the person is
monitored (released → 404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from .clock import local_day
from .models import MonitoringPeriod, PeriodState
from .models.periods import OPEN_STATES


def _key() -> bytes:
    return (settings.NOTICE_TOKEN_KEY or settings.SECRET_KEY).encode()


def token_for(period: MonitoringPeriod) -> str:
    digest = hmac.new(
        _key(), f"checkin:{period.pk}:{period.person_id}:{period.starts_on}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_tokens(period_ids: list[int]) -> None:
    """Store the token hash of periods that have none yet (one UPDATE per period that needs it: the
    hash depends on the key, which the database does not hold)."""
    for period in MonitoringPeriod.objects.filter(pk__in=period_ids, link_token_hash="").only(
        "pk", "person_id", "starts_on"
    ):
        MonitoringPeriod.objects.filter(pk=period.pk, link_token_hash="").update(
            link_token_hash=token_hash(token_for(period))
        )


def checkin_link(period: MonitoringPeriod) -> str:
    base = settings.NOTICE_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/c/{token_for(period)}/"


def link_expires_on(period: MonitoringPeriod):
    return period.ends_on + timedelta(days=settings.CHECKIN_LINK_GRACE_DAYS)


def period_by_token(token: str, *, now: datetime | None = None) -> MonitoringPeriod:
    """The period of a personal check-in link, or 404: unknown, expired, or no longer monitored."""
    now = now or timezone.now()
    if not token or len(token) > 64:
        raise Http404
    period = (
        MonitoringPeriod.objects.select_related("person")
        .filter(
            link_token_hash=token_hash(token),
            state__in=[*OPEN_STATES, PeriodState.LOST_CONTACT],
        )
        .first()
    )
    if period is None or local_day(now) > link_expires_on(period):
        raise Http404
    return period
