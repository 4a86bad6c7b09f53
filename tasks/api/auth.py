"""Token authentication with a lifetime and revocation (tasks/tokens.py): `Authorization: Token <key>`.

Integration tokens (machines) authenticate only on views that declare `integration_tokens = True`
(the lead API); anywhere else they are refused, so a leaked machine key reads no personal data.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ..models import ApiToken
from ..tokens import token_check


class ExpiringTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        self._view = (getattr(request, "parser_context", None) or {}).get("view")
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        token = token_check(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token: log in again."))
        if token.kind == ApiToken.Kind.INTEGRATION and not getattr(self._view, "integration_tokens", False):
            raise exceptions.AuthenticationFailed(_("An integration token is accepted by the lead API only."))
        return token.user, token
