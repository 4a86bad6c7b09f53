"""Request middlewares of issue 9: idle session timeout, the second factor, private responses.

Order (settings.MIDDLEWARE): after AuthenticationMiddleware and django_otp's OTPMiddleware.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from .security import otp_required

LAST_ACTIVITY_KEY = "_security_last_activity"
# A request with this header (e.g. an htmx poll: hx-headers='{"X-Idle-Passive": "1"}') is served but
# does not count as activity: an open dashboard that refreshes itself still times out.
PASSIVE_HEADER = "HTTP_X_IDLE_PASSIVE"
# Writing the session on every request is not needed: activity is recorded at most this often.
TOUCH_EVERY_SECONDS = 10


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


class IdleTimeoutMiddleware:
    """Logs out a session that saw no activity for SESSION_IDLE_TIMEOUT (sliding)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated and session.session_key:
            now = time.time()
            last = session.get(LAST_ACTIVITY_KEY)
            limit = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            if last is not None and now - last > limit:
                logout(request)
                if _wants_json(request) or request.headers.get("HX-Request"):
                    from tracing_center.api_auth import authenticate_challenge

                    response = JsonResponse(
                        {"detail": _("Your session ended after inactivity. Log in again.")}, status=401
                    )
                    response["WWW-Authenticate"] = authenticate_challenge(request)
                    return response
                messages.info(request, _("Your session ended after inactivity. Log in again."))
                return HttpResponseRedirect(
                    f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
                )
            if (last is None or now - last >= TOUCH_EVERY_SECONDS) and not request.META.get(PASSIVE_HEADER):
                session[LAST_ACTIVITY_KEY] = now
        response = self.get_response(request)
        return response


# Paths an account that still owes its second factor may reach.
def _exempt_paths() -> tuple[str, ...]:
    return (
        reverse("otp_verify"),
        reverse("otp_setup"),
        reverse("logout"),
        reverse("set_language"),
        reverse("healthz"),
        reverse("api-token"),  # asks for the code itself
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}",
    )


class SecondFactorMiddleware:
    """An account of a role in OTP_REQUIRED_ROLES that logged in with its password but has not entered
    a TOTP code in this session reaches only the code pages: other pages redirect there, session API
    calls answer 403. Token-authenticated API calls do not carry a session and are not seen here: the
    token endpoint itself demands the code (tasks/api/security.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and otp_required(user) and not user.is_verified():
            if not request.path.startswith(_exempt_paths()):
                if _wants_json(request):
                    return JsonResponse({"detail": _("Two-factor verification required.")}, status=403)
                return HttpResponseRedirect(
                    f"{reverse('otp_verify')}?{urlencode({'next': request.get_full_path()})}"
                )
        return self.get_response(request)


class PrivateResponseMiddleware:
    """Pages for a logged-in account are not kept by the browser or a proxy (no back-button view of
    personal data after logout), and say which browser features the app may use."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-store"
        if not response.has_header("Permissions-Policy"):
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response
