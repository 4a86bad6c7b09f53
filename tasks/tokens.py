"""API tokens: issue, check, revoke (the model and its rules: tasks/models/tokens.py).

Lifetimes are settings: API_TOKEN_LIFETIME (personal tokens, one duty shift by default) and
INTEGRATION_TOKEN_LIFETIME (machine credentials, made by an administrator with
`manage.py create_integration_token`). Revocation follows the account: logout revokes its personal
tokens; a password change, a second-factor reset and deactivation revoke all of them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import ApiToken, User


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(
    *, user: User, kind: str = ApiToken.Kind.PERSONAL, name: str = "", now: datetime | None = None
) -> tuple[str, ApiToken]:
    """A new token for `user`: (the key, shown once; the row)."""
    now = now or timezone.now()
    lifetime = (
        settings.INTEGRATION_TOKEN_LIFETIME
        if kind == ApiToken.Kind.INTEGRATION
        else settings.API_TOKEN_LIFETIME
    )
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=_hash(key),
        prefix=key[:8],
        user=user,
        kind=kind,
        name=name,
        created_at=now,
        expires_at=now + lifetime,
    )
    return key, token


def token_check(key: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token of `key` (not expired, not revoked, its account active), else None."""
    if not key:
        return None
    now = now or timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # At most one write a minute per token: the last use is for the administrator, not a log.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def tokens_revoke(
    *, user_id: int, reason: str, kinds: tuple[str, ...] | None = None, now: datetime | None = None
) -> int:
    """Revoke the live tokens of an account (of `kinds`, default all). Returns how many."""
    live = ApiToken.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if kinds is not None:
        live = live.filter(kind__in=kinds)
    return live.update(revoked_at=now or timezone.now(), revoked_reason=reason)


@receiver(user_logged_out, dispatch_uid="tokens_revoke_on_logout")
def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        tokens_revoke(user_id=user.pk, reason="logout", kinds=(ApiToken.Kind.PERSONAL,))


@receiver(pre_save, sender=User, dispatch_uid="tokens_revoke_on_password_change")
def _on_account_change(sender, instance: User, raw: bool = False, **kwargs) -> None:
    """A new password, or a deactivation, ends every token of the account."""
    if raw or instance.pk is None:
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # a login's last_login, a profile edit: no extra query
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password:
        tokens_revoke(user_id=instance.pk, reason="password_change")
    elif before["is_active"] and not instance.is_active:
        tokens_revoke(user_id=instance.pk, reason="deactivated")


@receiver(post_delete, sender=TOTPDevice, dispatch_uid="tokens_revoke_on_second_factor_reset")
def _on_second_factor_reset(sender, instance: TOTPDevice, **kwargs) -> None:
    """An administrator deleting a confirmed device (a lost phone) resets the second factor: tokens
    issued with the old one end too."""
    if instance.confirmed:
        tokens_revoke(user_id=instance.user_id, reason="second_factor_reset")
