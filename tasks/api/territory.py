"""Territory and account endpoints: the division picker, units, and who am I."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ..models import Division, Level, Unit, User, normalize_code
from ..selectors import divisions_visible_to, units_visible_to


class DivisionSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent_id", read_only=True)

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


class UnitSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    leader = serializers.CharField(source="leader.username", default=None, read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "kind", "name", "division_code", "leader"]


class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = UnitSerializer

    def get_queryset(self):
        queryset = units_visible_to(self.request.user).select_related("leader")
        if kind := self.request.query_params.get("kind"):
            queryset = queryset.filter(kind=kind)
        return queryset.order_by("division_id", "kind")


class MeSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "role", "division_code"]


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    return Response(MeSerializer(request.user).data)
