"""The error answers every API operation can give, added to the OpenAPI description (drf-spectacular
postprocessing hook), so that clients and the schema-conformance tests see them documented.

Every error body is `{"detail": ..., "errors": {field: [reason, ...]}}` (tracing_center/api.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.authentication import SessionScheme


class ChallengingSessionScheme(SessionScheme):
    """Documents tracing_center.api_auth.SessionAuthentication as the session cookie scheme it is."""

    target_class = "tracing_center.api_auth.SessionAuthentication"


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
        "max_bytes": {"type": "integer"},
    },
    "required": ["detail"],
}
COMMON = {
    "400": "Invalid input: `errors` names each field and what is wrong with it.",
    "401": "Not authenticated (no or an expired session or token).",
    "403": "Authenticated, but the role may not do this.",
    "404": "No such object in the caller's territory.",
}
WRITES = {
    "409": "The object changed state meanwhile (e.g. already claimed or decided).",
    "413": "The request body is larger than this operation accepts (`max_bytes`).",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            extra = {**COMMON, **(WRITES if method != "get" else {})}
            if path.rstrip("/").endswith("/auth/token"):
                extra["429"] = "Too many failed attempts: the account is locked for a while."
            for code, description in extra.items():
                responses.setdefault(code, {"description": description, "content": reference})
    return result


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (a request Django refuses before any view: too many fields, a malformed body): JSON
    under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return defaults.bad_request(request, exception)
