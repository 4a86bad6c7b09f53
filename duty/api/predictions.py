"""GET /api/v1/workload/predicted-breaches/?division=&hours= (docs/duty.md, "Predicted breaches"): per
township of the territory, the open tasks expected to breach in the next `hours` (1 to 4, default 2),
the worst of them, and the rebalancing suggestions. `division` defaults to the caller's scope; a division
outside it answers 404."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from duty.api.workload import division_param
from duty.services.predictions import DEFAULT_HOURS, MAX_HOURS, predicted_breaches_shared
from tasks.api.permissions import capability, request_user


def hours_param(value: str | None) -> int:
    """`hours` of the query string: 1 to MAX_HOURS, DEFAULT_HOURS when absent."""
    value = (value or "").strip()
    if not value:
        return DEFAULT_HOURS
    if not value.isdigit() or not 1 <= int(value) <= MAX_HOURS:
        raise exceptions.ValidationError(
            {"hours": [_("must be a whole number of hours from 1 to %(max)s") % {"max": MAX_HOURS}]}
        )
    return int(value)


class PredictedBreachesApi(APIView):
    def get_permissions(self):
        return [IsAuthenticated(), capability("workload.view")()]

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("division", str, description="a division code of the territory"),
            OpenApiParameter(
                "hours", int, description=f"the horizon in hours, 1 to {MAX_HOURS} (default {DEFAULT_HOURS})"
            ),
        ],
        summary="Tasks expected to breach per township, with the worst tasks and the rebalancing",
    )
    def get(self, request):
        user = request_user(request)
        prefix = division_param(user, request.query_params.get("division"))
        hours = hours_param(request.query_params.get("hours"))
        return JsonResponse(
            predicted_breaches_shared(prefix, hours=hours), json_dumps_params={"ensure_ascii": False}
        )
