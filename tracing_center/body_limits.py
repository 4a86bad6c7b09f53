"""Request-body limits: one for the lead API and the lab results feed (sized to their documented maximum
of rows), Django's DATA_UPLOAD_MAX_MEMORY_SIZE for everything else, and a JSON answer when an API body is too large.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE when the body is first read and answers a plain HTML 400;
a client of the API gets JSON (413, with the limit) instead. The lead API's body is read here, within
its own limit, so that the global limit (which protects every other form and endpoint) stays small.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        is_api = request.path.startswith("/api/")
        if length is None:
            if is_api:
                return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
            return self.get_response(request)
        path = request.path.rstrip("/")
        lead_api = request.method == "POST" and any(
            path == large.rstrip("/") for large in settings.LARGE_BODY_API_PATHS
        )
        limit = settings.LEAD_API_MAX_BODY_BYTES if lead_api else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit and (is_api or lead_api):
            return JsonResponse(
                {
                    "detail": f"The request body is {length:,} bytes; at most {limit:,} are accepted here.",
                    "max_bytes": limit,
                },
                status=413,
            )
        if lead_api and length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
            # Read now, within the lead limit: request.body then returns it without Django's smaller check.
            request._body = request.read()
        return self.get_response(request)
