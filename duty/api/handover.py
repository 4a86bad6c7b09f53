"""Shift handovers (docs/duty.md, "Handover"). Written through POST /api/v1/shifts/{id}/handover/
(duty/api/roster.py); read and acknowledged here. A handover of a desk outside the territory: 404.

GET  /api/v1/handovers/                  ?unit=  the desk's handovers, newest first
GET  /api/v1/handovers/{id}/
POST /api/v1/handovers/{id}/acknowledge/  by the officer of the next shift at the desk
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from duty.models import Handover
from duty.services import handover as handovers
from tasks.api.permissions import capability, request_user
from tracing_center.api import Pagination

from .roster import OfficerSerializer, call


class HandoverSerializer(serializers.ModelSerializer):
    desk = serializers.CharField(source="desk.name", read_only=True)
    division_code = serializers.CharField(source="desk.division_id", read_only=True)
    handed_over_by = OfficerSerializer(read_only=True)
    acknowledged_by = OfficerSerializer(read_only=True, allow_null=True)
    sections = serializers.SerializerMethodField()

    class Meta:
        model = Handover
        fields = [
            "id",
            "shift",
            "unit",
            "desk",
            "division_code",
            "window_start",
            "window_end",
            "sections",
            "notes",
            "handed_over_by",
            "created_at",
            "next_shift",
            "acknowledged_by",
            "acknowledged_at",
        ]

    unit = serializers.IntegerField(source="desk_id", read_only=True)

    def get_sections(self, obj) -> dict:
        return (obj.snapshot or {}).get("sections", {})


class HandoverViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = HandoverSerializer
    pagination_class = Pagination

    def get_permissions(self):
        return [IsAuthenticated(), capability("roster.view")()]

    def get_queryset(self):
        queryset = handovers.handovers_visible_to(self.request.user)
        if (unit := self.request.query_params.get("unit")) is not None:
            if not unit.isdigit():
                raise exceptions.ValidationError({"unit": [_("must be the id of a duty desk")]})
            queryset = queryset.filter(desk_id=int(unit))
        return queryset.order_by("-created_at", "-id")

    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        record = call(handovers.acknowledge, actor=request_user(request), handover=self.get_object())
        return Response(HandoverSerializer(record).data)
