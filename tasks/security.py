"""Account security helpers (issue 9): the lockout backend, the client address, password strength.

Two-factor login lives in tasks/twofactor.py, the request middlewares in tasks/security_middleware.py,
the access log in tasks/access_log.py, the watermark in tasks/watermark.py, retention in tasks/retention.py.
"""

from __future__ import annotations

import ipaddress

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every login over HTTP passes the request (Django's login form, DRF's token serializer, our token
    view), and is checked. `authenticate()` without a request (the shell, `Client.login()` in tests)
    has no client to lock out, so it is let through to ModelBackend instead of raising as axes does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address. Behind TRUSTED_PROXY_COUNT proxies, the address the outermost trusted
    proxy saw (X-Forwarded-For, counted from the right: entries further left can be forged)."""
    request = getattr(request, "_request", request)  # a DRF Request
    meta = request.META
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            found = _valid_ip(hops[-count])
            if found:
                return found
    return _valid_ip(meta.get("REMOTE_ADDR", "") or "")


def lockout_username(request, credentials) -> str | None:
    """Usernames are case-insensitively unique (tasks/accounts.py): `Alice` and `alice` count together."""
    username = (credentials or {}).get("username") if isinstance(credentials, dict) else None
    if username is None:
        data = getattr(request, "POST", None) or getattr(request, "data", None) or {}
        username = data.get("username")
    return username.strip().lower() if isinstance(username, str) else username


class CharacterClassesValidator:
    """A password mixes at least `min_classes` of: lower-case, upper-case, digits, other characters."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    @staticmethod
    def classes(password: str) -> int:
        return sum(
            (
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            )
        )

    def validate(self, password, user=None):
        if self.classes(password) < self.min_classes:
            raise ValidationError(self.message(), code="password_too_simple")

    def message(self) -> str:
        return ngettext(
            "The password must mix at least %(count)d kind of characters: lower-case letters, "
            "upper-case letters, digits, other characters.",
            "The password must mix at least %(count)d kinds of characters: lower-case letters, "
            "upper-case letters, digits, other characters.",
            self.min_classes,
        ) % {"count": self.min_classes}

    def get_help_text(self):
        return self.message()


def otp_required(user) -> bool:
    """Whether the account must pass a second factor (settings.OTP_REQUIRED_ROLES, and superusers)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or getattr(user, "role", "") in settings.OTP_REQUIRED_ROLES)


def cooloff_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_message() -> str:
    return ngettext(
        "Too many failed logins. Try again in %(minutes)d minute, or ask an administrator.",
        "Too many failed logins. Try again in %(minutes)d minutes, or ask an administrator.",
        cooloff_minutes(),
    ) % {"minutes": cooloff_minutes()}


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): 429 with the lockout page,
    or JSON for the API."""
    from django.http import JsonResponse
    from django.shortcuts import render

    request = getattr(request, "_request", request)
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"detail": lockout_message()}, status=429)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": cooloff_minutes()}, status=429)


# No division code starts with this: an account without a territory sends no lead anywhere.
NO_TERRITORY = "-"


def lead_scope(user) -> str:
    """The territory an account may send leads for (intake API, upload, form): its own scope, the
    whole country for a superuser. The command line (import_leads) passes no scope."""
    from .selectors import scope_code

    prefix = scope_code(user)
    return NO_TERRITORY if prefix is None else prefix
