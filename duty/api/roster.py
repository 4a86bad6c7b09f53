"""The duty roster API (docs/duty.md, "Roster"). Reads need `roster.view`, writes `roster.edit` (the
desk's duty officers, commanders); a shift of a desk outside the caller's territory answers 404.

GET  /api/v1/shifts/              ?unit=&date_from=&date_to= (Beijing dates, inclusive)
POST /api/v1/shifts/              {"unit", "user", "starts_at", "ends_at"}
GET/PUT/PATCH/DELETE /api/v1/shifts/{id}/
POST /api/v1/shifts/swap/         {"first", "second", "reason"}: the two officers exchange shifts
POST /api/v1/shifts/{id}/handover/  {"notes"}: the handover of the shift (see duty/api/handover.py)
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from duty.services import handover as handovers
from duty.services import roster
from tasks.api.permissions import capability, request_user
from tasks.models import DutyShift, User
from tasks.selectors import accounts_visible_to
from tracing_center.api import Pagination


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def call(service, **kwargs):
    """Service errors in the API's shape: 403 role, 400 input (by field), 409 state."""
    try:
        return service(**kwargs)
    except handovers.HandoverConflict as exc:
        raise Conflict({"detail": exc.messages[0], "code": exc.code}) from None
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc) or None) from None
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        ) from None


class OfficerSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "full_name"]


class ShiftSerializer(serializers.ModelSerializer):
    desk = serializers.CharField(source="unit.name", read_only=True)
    division_code = serializers.CharField(source="unit.division_id", read_only=True)
    officer = OfficerSerializer(source="user", read_only=True)
    handover = serializers.SerializerMethodField()

    class Meta:
        model = DutyShift
        fields = [
            "id",
            "unit",
            "desk",
            "division_code",
            "user",
            "officer",
            "starts_at",
            "ends_at",
            "handover",
        ]

    def get_handover(self, obj) -> int | None:
        return getattr(getattr(obj, "handover", None), "pk", None)


class ShiftInput(serializers.Serializer):
    unit = serializers.IntegerField()
    user = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class ShiftPatch(serializers.Serializer):
    user = serializers.IntegerField(required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)


class SwapInput(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class HandoverInput(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


def _date(params, name: str) -> date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError({name: [_("must be a date YYYY-MM-DD")]}) from None


def _officer(actor, user_id) -> User | None:
    return accounts_visible_to(actor).filter(pk=user_id).first() if user_id is not None else None


def _officer_or_error(actor, user_id) -> User:
    officer = _officer(actor, user_id)
    if officer is None:
        raise exceptions.ValidationError({"user": [_("No such officer in your territory.")]})
    return officer


class ShiftViewSet(viewsets.ModelViewSet):
    serializer_class = ShiftSerializer
    pagination_class = Pagination
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_permissions(self):
        return [IsAuthenticated(), capability("roster.view", "roster.edit")()]

    def get_queryset(self):
        queryset = roster.shifts_visible_to(self.request.user).select_related("handover")
        params = self.request.query_params
        if (unit := params.get("unit")) is not None and self.action == "list":
            if not unit.isdigit():
                raise exceptions.ValidationError({"unit": [_("must be the id of a duty desk")]})
            queryset = queryset.filter(unit_id=int(unit))
        if self.action == "list":
            date_from, date_to = _date(params, "date_from"), _date(params, "date_to")
            if date_from and date_to and date_to < date_from:
                raise exceptions.ValidationError({"date_to": [_("must not be before date_from")]})
            if date_from:
                queryset = queryset.filter(ends_at__gt=datetime.combine(date_from, time.min, roster.BEIJING))
            if date_to:
                end = datetime.combine(date_to + timedelta(days=1), time.min, roster.BEIJING)
                queryset = queryset.filter(starts_at__lt=end)
        return queryset.order_by("starts_at", "id")

    def create(self, request, *args, **kwargs):
        actor = request_user(request)
        data = ShiftInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        desk = roster.desks_visible_to(actor).filter(pk=values["unit"]).first()
        if desk is None:
            raise exceptions.ValidationError({"unit": [_("Choose a duty desk in your territory.")]})
        shift = call(
            roster.create_shift,
            actor=actor,
            unit=desk,
            user=_officer_or_error(actor, values["user"]),
            starts_at=values["starts_at"],
            ends_at=values["ends_at"],
        )
        return Response(ShiftSerializer(shift).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        actor = request_user(request)
        shift = self.get_object()
        data = (ShiftPatch if kwargs.get("partial") else ShiftInput)(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "unit" in values and values["unit"] != shift.unit_id:
            raise exceptions.ValidationError(
                {"unit": [_("A shift cannot move to another desk; delete it and add a new one.")]}
            )
        officer = _officer_or_error(actor, values["user"]) if "user" in values else None
        shift = call(
            roster.update_shift,
            actor=actor,
            shift=shift,
            user=officer,
            starts_at=values.get("starts_at"),
            ends_at=values.get("ends_at"),
        )
        return Response(ShiftSerializer(shift).data)

    def destroy(self, request, *args, **kwargs):
        call(roster.delete_shift, actor=request_user(request), shift=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"])
    def swap(self, request):
        actor = request_user(request)
        data = SwapInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        visible = roster.shifts_visible_to(actor)
        first = visible.filter(pk=values["first"]).first()
        second = visible.filter(pk=values["second"]).first()
        errors = {}
        if first is None:
            errors["first"] = [_("No such shift in your territory.")]
        if second is None:
            errors["second"] = [_("No such shift in your territory.")]
        if errors:
            raise exceptions.ValidationError(errors)
        swap = call(roster.swap_shifts, actor=actor, first=first, second=second, reason=values["reason"])
        return Response(
            {
                "id": swap.pk,
                "first": ShiftSerializer(DutyShift.objects.get(pk=swap.first_shift_id)).data,
                "second": ShiftSerializer(DutyShift.objects.get(pk=swap.second_shift_id)).data,
                "swapped_at": swap.swapped_at,
            }
        )

    @action(detail=True, methods=["post"])
    def handover(self, request, pk=None):
        from .handover import HandoverSerializer

        actor = request_user(request)
        shift = self.get_object()
        data = HandoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        record = call(handovers.hand_over, actor=actor, shift=shift, notes=data.validated_data["notes"])
        return Response(HandoverSerializer(record).data, status=status.HTTP_201_CREATED)

    def check_permissions(self, request):
        # The handover of one's own shift is a write that `roster.view` may do; the service checks who.
        if self.action == "handover":
            if not capability("roster.view")().has_permission(request, self):
                self.permission_denied(request, message="Your role may not do this.")
            return
        super().check_permissions(request)
