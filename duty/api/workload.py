"""GET /api/v1/workload/?division= (docs/duty.md, "Workload"): per member and per team, open tasks by
kind and clock state, due in the next hour, breached, median handling times, and the suggested
rebalancing. `division` defaults to the caller's scope; a division outside it answers 404."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from duty.services.workload import workload_json
from tasks.api.permissions import capability, request_user
from tasks.selectors import scope_code


def division_param(user, value: str | None) -> str:
    """The territory to show: `value` (digits, inside the account's scope) or the scope itself."""
    scope = scope_code(user)
    if scope is None:
        raise Http404
    value = (value or "").strip()
    if not value:
        return scope
    if not value.isdigit() or len(value) > 12:
        raise exceptions.ValidationError({"division": [_("must be a division code (digits)")]})
    if not value.startswith(scope):
        if scope.startswith(value):
            # Wider than the scope: the scope is what the account sees of it.
            return scope
        raise Http404
    return value


class WorkloadApi(APIView):
    def get_permissions(self):
        return [IsAuthenticated(), capability("workload.view")()]

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("division", str, description="a division code of the territory")],
        summary="Workload per member and team, with the suggested rebalancing",
    )
    def get(self, request):
        user = request_user(request)
        body = workload_json(division_param(user, request.query_params.get("division")))
        return HttpResponse(body, content_type="application/json")
