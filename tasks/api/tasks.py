"""`GET /api/v1/tasks/` and `/api/v1/tasks/{id}/`: the tasks the caller's territory holds.

Extension point: workflow actions (assign, receive, transfer, …) subclass `TaskViewSet` or add
`@action`s to it from their own module; `get_queryset()` is already scoped (tasks_visible_to), so an
action's `self.get_object()` answers 404 outside the caller's territory.
"""

from __future__ import annotations

from django.db.models import Prefetch
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from ..access_log import record_access
from ..filters import TaskFilter
from ..models import AccessAction, Lead
from ..selectors import tasks_visible_to
from .permissions import capability
from .serializers import TaskSerializer

TASK_LEAD_FIELDS = (
    "id",
    "source",
    "external_id",
    "priority",
    "reason",
    "division_id",
    "current_division_id",
    "reported_at",
    "received_at",
    "link__batch",
    "link__task",
)


def task_list_queryset(user):
    """The visible tasks with everything the serializer shows, in a constant number of queries."""
    return (
        tasks_visible_to(user)
        .select_related("person", "division")
        .prefetch_related(
            Prefetch(
                "leads", queryset=Lead.objects.select_related("link").only(*TASK_LEAD_FIELDS).order_by("id")
            )
        )
        .order_by("priority", "-created_at", "-id")
    )


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    """Tracing tasks in the caller's territory, most urgent first. Filters: `division` (code prefix),
    `status` (repeatable), `priority`, `batch`, `source`, `active`."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    permission_classes = [IsAuthenticated, capability("task.view")]

    def get_queryset(self):
        return task_list_queryset(self.request.user)

    # Every read of a person's data is in the access log: the detail, and each page of a list (one
    # INSERT per page, after the rows were fetched through the scoped queryset).
    def retrieve(self, request, *args, **kwargs):
        task = self.get_object()
        record_access(request, action=AccessAction.VIEW, objects=[task])
        return Response(self.get_serializer(task).data)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        if rows:
            record_access(request, action=AccessAction.VIEW, objects=rows)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)
