"""API authentication pieces (apart from tracing_center/api.py: DRF imports these while its views load)."""

from __future__ import annotations

from typing import cast

from rest_framework import authentication


def authenticate_challenge(request) -> str:
    """The WWW-Authenticate challenge of the API: that of the first configured authentication that has
    one (the token scheme), so that "not authenticated" is a 401 whichever way the client came."""
    from rest_framework.settings import api_settings

    # DRF has imported the dotted paths of the setting into classes by the time it is read here.
    classes = cast(
        "list[type[authentication.BaseAuthentication]]", api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )
    for auth_class in classes:
        if issubclass(auth_class, authentication.SessionAuthentication):
            continue
        header = auth_class().authenticate_header(request)
        if header:
            return header
    return "Token"


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication has no challenge, so DRF turns "not authenticated" into 403 when it
    comes first: a session that ended (idle timeout, logout) then answered 401 once and 403 after.
    With the token challenge it is 401 with WWW-Authenticate every time; 403 stays "not allowed"."""

    def authenticate_header(self, request) -> str:
        return authenticate_challenge(request)
