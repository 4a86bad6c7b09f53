"""Statistics API (issue 7), under /api/v1/ (documented in docs/reports.md).

GET /api/v1/stats/            a table: group_by=division|status|priority|batch|source|hour|day, level=province|city|
                              county|township|village, division=<code in your territory>, status=a,b|active,
                              priority=1,2, since=, until= (ISO date or date-time), export=csv|xlsx
GET /api/v1/stats/sla/        SLA compliance and medians for tasks dispatched in [since, until), backlog, overdue
GET /api/v1/stats/dashboard/  the duty officer's dashboard data (polled by /dashboard/)
GET /api/v1/reports/chain/<task_id>/   the chain of transmission of a case (nodes + edges)
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.api.permissions import capability
from tasks.models import TracingTask
from tasks.selectors import get_visible_or_404

from . import stats
from .reading import chain
from .views import export_table


def _query(request):
    try:
        return stats.parse_query(request.user, request.query_params)
    except stats.BadParameter as exc:
        raise exceptions.ValidationError({"detail": str(exc)}) from None


STATS_PARAMETERS = [
    OpenApiParameter(
        "group_by", str, enum=["division", "status", "priority", "batch", "source", "hour", "day"]
    ),
    OpenApiParameter("level", str, enum=["province", "city", "county", "township", "village"]),
    OpenApiParameter("division", str, description="division code inside your territory"),
    OpenApiParameter("status", str, description="comma-separated statuses, or `active`"),
    OpenApiParameter("priority", str, description="comma-separated priorities 1-6"),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
    OpenApiParameter("until", OpenApiTypes.DATETIME),
    OpenApiParameter("export", str, enum=["csv", "xlsx"]),
]


class StatsView(APIView):
    permission_classes = [IsAuthenticated, capability("stats.view")]

    @extend_schema(
        parameters=STATS_PARAMETERS,
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,  # ?export=csv
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        q = _query(request)
        table = stats.table(q)
        fmt = request.query_params.get("export")
        if fmt and fmt not in ("csv", "xlsx"):
            raise exceptions.ValidationError({"export": ["one of csv, xlsx"]})
        if fmt:
            return export_table(request._request, table, fmt, dict(request.query_params.items()))
        return Response(
            {
                "group_by": q.group_by,
                "division": q.root,
                "level": q.level,
                "since": q.since,
                "until": q.until,
                "columns": table.columns,
                "results": table.as_dicts(),
            }
        )


class SlaView(APIView):
    permission_classes = [IsAuthenticated, capability("stats.view")]

    @extend_schema(parameters=STATS_PARAMETERS[:-1], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(stats.sla(_query(request)))


def dashboard_data(request):
    """GET /api/v1/stats/dashboard/: a plain Django view (the hottest endpoint: polled by every open
    dashboard), serving the cached JSON bytes; session login only (the page's fetch), 403 as JSON otherwise."""
    from django.http import HttpResponse, JsonResponse

    from tasks.roles import can

    if request.method != "GET":
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    if not can(request.user, "stats.view"):
        return JsonResponse(
            {
                "detail": "Authentication credentials were not provided."
                if not request.user.is_authenticated
                else "Your role may not do this."
            },
            status=403,
        )
    from .views import drill_root

    root = drill_root(request)
    response = HttpResponse(stats.dashboard_json(request.user, root), content_type="application/json")
    response["Cache-Control"] = "private, no-store"
    return response


class ChainView(APIView):
    permission_classes = [IsAuthenticated, capability("task.view")]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, task_id: int):
        task = get_visible_or_404(request.user, TracingTask.objects.all(), pk=task_id)
        return Response(chain(request.user, task.pk))
