"""API conventions shared by every endpoint: pagination and error bodies."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    """`count/next/previous/results`, with `?page_size=` up to 1,000."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


def exception_handler(exc, context):
    """Every error is JSON: `{"detail": ..., "errors": {field: [reason, ...]}}` for invalid input,
    `{"detail": ...}` otherwise. Field names stay exactly as the client sent them."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        if isinstance(data, list):
            errors = {"non_field_errors": data}
        elif isinstance(data, dict):
            errors = data
        else:
            errors = {"non_field_errors": [str(data)]}
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": str(exc), "errors": response.data}
    return response
