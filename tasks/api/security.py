"""API endpoints of issue 9: the token endpoint with the second factor, and "reveal" of masked fields.

Token-authenticated calls carry no session, so SecondFactorMiddleware never sees them: the second
factor is checked once, here, when the token is issued. An account of a role in OTP_REQUIRED_ROLES gets
a token only with a valid `otp_token`; wrong passwords and wrong codes count towards the lockout
(django-axes) exactly as on the login page.
"""

from __future__ import annotations

from django.contrib.auth import authenticate, logout
from django.contrib.auth.signals import user_login_failed
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import twofactor
from ..access_log import REVEALABLE_FIELDS, reveal_personal_fields
from ..masking import sees_unmasked
from ..models import ApiToken, TracingTask
from ..security import otp_required
from ..selectors import get_visible_or_404
from ..tokens import token_issue


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    otp_token = serializers.CharField(max_length=10, required=False, allow_blank=True)


class RevealRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=2, max_length=500)
    # The serializer metaclass moves declared fields into _declared_fields: this does not replace
    # Serializer.fields at run time, which the stubs cannot see.
    fields = serializers.ListField(child=serializers.ChoiceField(choices=REVEALABLE_FIELDS), required=False)  # type: ignore[assignment]


class ObtainTokenApi(APIView):
    """`POST {username, password, otp_token?}` → `{token, expires_at}`. `otp_token` (the 6-digit TOTP
    code) is required for duty officers, CDC experts, commanders, auditors and administrators. Each
    login issues a new token (settings.API_TOKEN_LIFETIME), revoked at logout, password change and
    second-factor reset."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    InputSerializer = TokenRequestSerializer

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "Token", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            )
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        http_request = request._request  # django-axes reads and marks the Django request
        username, password = data.validated_data["username"], data.validated_data["password"]
        user = authenticate(request=http_request, username=username, password=password)
        if user is None or not user.is_active:
            raise ValidationError({"non_field_errors": [_("Unable to log in with these credentials.")]})
        if otp_required(user):
            code = data.validated_data.get("otp_token", "")
            if not code:
                raise ValidationError(
                    {"otp_token": [_("Your role needs the code of your authenticator app.")]}
                )
            if twofactor.verify_token_for_user(user, code) is None:
                # A wrong code is a failed login for the lockout.
                user_login_failed.send(
                    sender=__name__, credentials={"username": username}, request=http_request
                )
                if getattr(http_request, "axes_locked_out", False):
                    from ..security import lockout_message

                    return Response({"detail": lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
                raise ValidationError({"otp_token": [_("That code is not right, or was already used.")]})
        key, token = token_issue(user=user)
        return Response({"token": key, "expires_at": token.expires_at})


class LogoutTokenApi(APIView):
    """`POST /api/v1/auth/logout/`: the token of the call stops working (a session is logged out, and
    with it every personal token of the account). 204."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            ApiToken.objects.filter(pk=request.auth.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_reason="logout"
            )
        else:
            logout(request._request)  # user_logged_out revokes the personal tokens (tasks/tokens.py)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskRevealApi(APIView):
    """`POST /api/v1/tasks/{id}/reveal/ {reason, fields?}` → the unmasked identity number, phone and
    address of the task's person. Logged with the reason (AccessLog, action "reveal"). 404 outside the
    caller's territory; 403 for roles that work with masked data."""

    permission_classes = [IsAuthenticated]

    InputSerializer = RevealRequestSerializer

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "Revealed", {field: serializers.CharField() for field in REVEALABLE_FIELDS}
            )
        },
    )
    def post(self, request, task_id: int):
        task = get_visible_or_404(request.user, TracingTask.objects.select_related("person"), pk=task_id)
        if not sees_unmasked(request.user):
            raise PermissionDenied(_("Your role works with masked personal data."))
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = reveal_personal_fields(
            request,
            task=task,
            reason=data.validated_data["reason"],
            fields=data.validated_data.get("fields") or REVEALABLE_FIELDS,
        )
        response = Response(values)
        response["Cache-Control"] = "no-store"
        return response
