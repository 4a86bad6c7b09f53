"""The error answers every API operation can give, added to the OpenAPI description (drf-spectacular
postprocessing hook), so that clients and the schema-conformance tests see them documented.

Every error body is `{"detail": ..., "errors": {field: [reason, ...]}}` (tracing_center/api.py).
"""

from __future__ import annotations

from typing import Any

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
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            extra = {**COMMON, **(WRITES if method != "get" else {})}
            for code, description in extra.items():
                responses.setdefault(code, {"description": description, "content": reference})
    return result
