"""The personal link of a pushed notice, /n/<token>/. Only a SHA-256 of the token is stored; the token
is derived from the row's salt with NOTICE_TOKEN_KEY (default SECRET_KEY), a key the database does not
hold, so the SMS step can put the link in the message without the database ever holding it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from notices.models import (
    Notice,
    NoticeState,
)

if TYPE_CHECKING:
    pass


def _token_key() -> bytes:
    return (settings.NOTICE_TOKEN_KEY or settings.SECRET_KEY).encode()


def token_for(notice: Notice) -> str:
    """The link token of a pushed notice: derived from the row's salt with a key that is not in the
    database (the database keeps only its SHA-256)."""
    digest = hmac.new(
        _token_key(), f"notice:{notice.pk}:{notice.token_salt}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def notice_link(notice: Notice) -> str:
    base = settings.NOTICE_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/n/{token_for(notice)}/"


def notice_by_token(token: str, *, now: datetime | None = None) -> Notice:
    """The notice of a personal link, or 404: unknown, expired, or not pushed."""
    now = now or timezone.now()
    if not token or len(token) > 64:
        raise Http404
    notice = (
        Notice.objects.select_related("person", "superseded_by")
        .filter(
            token_hash=token_hash(token),
            state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED, NoticeState.SUPERSEDED],
        )
        .first()
    )
    if notice is None or notice.token_expires_at is None or notice.token_expires_at <= now:
        raise Http404
    return notice
