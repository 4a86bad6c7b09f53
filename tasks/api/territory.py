"""Territory and account endpoints: the division picker, units, and who am I."""

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ..models import Division, DutyShift, Level, Unit, User, normalize_code
from ..selectors import divisions_visible_to, units_visible_to, visible_to


class DivisionSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent_id", read_only=True, allow_null=True)

    class Meta:
        model = Division
        fields = ["code", "name", "level", "parent_code"]


class DivisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Divisions inside the caller's scope. `q` searches by name or code prefix (the division picker),
    `level` and `parent` narrow the list."""

    serializer_class = DivisionSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{2,12}"

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="name contains, or code starts with"),
            OpenApiParameter("level", str, enum=Level.values),
            OpenApiParameter("parent", str, description="code of the parent division"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = divisions_visible_to(self.request.user)
        params = self.request.query_params
        if level := params.get("level"):
            if level not in Level.values:
                raise ValidationError({"level": [f"must be one of {', '.join(Level.values)}"]})
            queryset = queryset.filter(level=level)
        if parent := params.get("parent"):
            try:
                queryset = queryset.filter(parent_id=normalize_code(parent))
            except ValueError as exc:
                raise ValidationError({"parent": [str(exc)]}) from None
        if q := params.get("q", "").strip():
            queryset = queryset.filter(Q(code__startswith=q) if q.isdigit() else Q(name__contains=q))
        return queryset.order_by("code")


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "full_name", "role"]


class UnitSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    leader = MemberSerializer(read_only=True, allow_null=True)
    members = MemberSerializer(many=True, read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "kind", "name", "division_code", "leader", "members"]


class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    """Duty desks (city, county), teams (township) and sub-units (village) in the caller's scope, with
    their leader and members; `kind` and `division` (code prefix) narrow the list."""

    serializer_class = UnitSerializer

    def get_queryset(self):
        queryset = units_visible_to(self.request.user).select_related("leader").prefetch_related("members")
        params = self.request.query_params
        if kind := params.get("kind"):
            if kind not in Unit.Kind.values:
                raise ValidationError({"kind": [f"must be one of {', '.join(Unit.Kind.values)}"]})
            queryset = queryset.filter(kind=kind)
        if division := params.get("division"):
            queryset = queryset.filter(division__code__startswith=division)
        return queryset.order_by("division_id", "kind")


class DutyShiftSerializer(serializers.ModelSerializer):
    desk = serializers.CharField(source="unit.name", read_only=True)
    division_code = serializers.CharField(source="unit.division_id", read_only=True)
    officer = MemberSerializer(source="user", read_only=True)

    class Meta:
        model = DutyShift
        fields = ["id", "desk", "division_code", "officer", "starts_at", "ends_at"]


class DutyShiftViewSet(viewsets.ReadOnlyModelViewSet):
    """The on-duty roster of the duty desks in scope. `on_duty_at=ISO8601` lists who is on duty then
    (`on_duty_at=now` for now)."""

    serializer_class = DutyShiftSerializer

    def get_queryset(self):
        queryset = visible_to(self.request.user, DutyShift.objects.all(), path="unit__division__code")
        queryset = queryset.select_related("unit", "user")
        if at := self.request.query_params.get("on_duty_at"):
            moment = timezone.now() if at == "now" else parse_datetime(at)
            if moment is None:
                raise ValidationError({"on_duty_at": ["must be an ISO 8601 datetime or 'now'"]})
            if timezone.is_naive(moment):
                raise ValidationError({"on_duty_at": ["must include a time zone offset"]})
            queryset = queryset.filter(starts_at__lte=moment, ends_at__gt=moment)
        return queryset.order_by("starts_at")


class MeSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "role", "division_code"]


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    return Response(MeSerializer(request.user).data)
