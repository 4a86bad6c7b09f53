"""Input that PostgreSQL cannot store or that the parsers choke on is a 400 naming the field, never a 500.

* NUL characters (PostgreSQL text cannot hold them) and lone surrogates (not encodable as UTF-8) in a
  query-string parameter: the middleware answers 400 naming the parameter.
* The same in any string (or key) of a JSON body, and JSON nested too deep for Python's parser: the API's
  JSON parser answers 400 naming the path of the value ("[3].name").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_JSON_DEPTH = 64


def unstorable_reason(text: str) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate (not UTF-8)"


def _walk(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(path, reason) of the first unstorable string or too-deep nesting in a parsed JSON value."""
    if depth > MAX_JSON_DEPTH:
        return path or "$", f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        reason = unstorable_reason(value)
        return (path or "$", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            reason = unstorable_reason(key)
            if reason:
                return f"{path}.{key!r}" if path else repr(key), f"key {reason}"
            found = _walk(item, f"{path}.{key}" if path else key, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        view = (parser_context or {}).get("view")
        if getattr(view, "text_checked_per_row", False):
            # The lead API refuses such a row with its field (the rest of the list is taken).
            return data
        try:
            found = _walk(data, "")
        except RecursionError:
            found = ("$", f"nested deeper than {MAX_JSON_DEPTH} levels")
        if found is not None:
            path, reason = found
            raise ValidationError({path: [reason]})
        return data


class QueryStringGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            for text in (name, *values):
                reason = unstorable_reason(text)
                if reason:
                    if request.path.startswith("/api/"):
                        return JsonResponse(
                            {"detail": "Invalid input.", "errors": {name: [reason]}}, status=400
                        )
                    return HttpResponseBadRequest(f"{name}: {reason}", content_type="text/plain")
        return self.get_response(request)
