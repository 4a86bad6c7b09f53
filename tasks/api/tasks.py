"""`GET /api/v1/tasks/` and `/api/v1/tasks/{id}/`: the tasks the caller's territory holds.

Extension point: workflow actions (assign, receive, transfer, …) subclass `TaskViewSet` or add
`@action`s to it from their own module; `get_queryset()` is already scoped (tasks_visible_to), so an
action's `self.get_object()` answers 404 outside the caller's territory.
"""

from __future__ import annotations

from django.db.models import Prefetch
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from ..filters import TaskFilter
from ..models import Lead
from ..selectors import tasks_visible_to
from .permissions import capability
from .serializers import TaskSerializer

TASK_LEAD_FIELDS = (
    "id", "task_id", "source", "external_id", "priority", "reason", "division_id", "current_division_id",
    "reported_at", "received_at", "batch_id",
)


def task_list_queryset(user):
    """The visible tasks with everything the serializer shows, in a constant number of queries."""
    return (
        tasks_visible_to(user)
        .select_related("person", "division")
        .prefetch_related(Prefetch("leads", queryset=Lead.objects.only(*TASK_LEAD_FIELDS).order_by("id")))
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
