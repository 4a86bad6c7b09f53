"""The supervision-order API (docs/duty.md#supervision-orders).

GET  /api/v1/supervision-orders/                 ?scope=issued|assigned|all &state= (or "open") &priority= &overdue=1
POST /api/v1/supervision-orders/                 {"title", "text", "deadline", "priority", "owner_unit" | "owner_user",
                                                  "tasks": [id or "T123"], "divisions": ["460105001"]}
GET  /api/v1/supervision-orders/{id}/            the order with its thread and the caller's allowed actions
POST /api/v1/supervision-orders/{id}/acknowledge/
POST /api/v1/supervision-orders/{id}/reply/      {"text"}
POST /api/v1/supervision-orders/{id}/complete/   {"text"} (optional)
POST /api/v1/supervision-orders/{id}/accept/
POST /api/v1/supervision-orders/{id}/send-back/  {"reason"}

Errors: 400 naming the field, 403 for a role or a person who may not act, 404 outside the issuer's and
the owner's territory, 409 when the order's state does not allow the move (`detail`, `code`, `state`).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from tasks.api.permissions import request_user

from .models import SupervisionOrder, SupervisionOrderEvent
from .services import orders as services


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "illegal_transition"


def call(service, **kwargs):
    try:
        return service(**kwargs)
    except services.OrderConflict as exc:
        raise Conflict({"detail": exc.message, "code": "illegal_transition", "state": exc.state}) from None
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc) or None) from None
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        ) from None


class PersonBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class EventSerializer(serializers.ModelSerializer):
    actor = PersonBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = SupervisionOrderEvent
        fields = ["id", "kind", "actor", "text", "created_at"]


class OrderSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    issuer = PersonBriefSerializer(read_only=True)
    owner_user = PersonBriefSerializer(read_only=True, allow_null=True)
    owner_unit = serializers.SerializerMethodField()
    owner_name = serializers.SerializerMethodField()
    tasks = serializers.SerializerMethodField()
    divisions = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = SupervisionOrder
        fields = [
            "id",
            "number",
            "title",
            "text",
            "state",
            "priority",
            "deadline",
            "overdue",
            "issuer",
            "issuer_division",
            "owner_unit",
            "owner_user",
            "owner_name",
            "owner_division",
            "tasks",
            "divisions",
            "created_at",
            "acknowledged_at",
            "completed_at",
            "accepted_at",
            "overdue_at",
            "sent_back_count",
        ]

    def get_owner_unit(self, obj) -> dict | None:
        unit = obj.owner_unit
        return {"id": unit.pk, "name": unit.name, "kind": unit.kind} if unit else None

    def get_owner_name(self, obj) -> str:
        return services.owner_name(obj)

    def get_tasks(self, obj) -> list[int]:
        return sorted(t.pk for t in obj.tasks.all())

    def get_divisions(self, obj) -> list[str]:
        return sorted(d.pk for d in obj.divisions.all())

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue()


class OrderDetailSerializer(OrderSerializer):
    events = EventSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "events", "actions"]

    def get_actions(self, obj) -> list[str]:
        return sorted(services.actions_for(self.context["request"].user, obj))


class OrderCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    deadline = serializers.CharField(help_text="ISO 8601 with an offset, e.g. 2026-12-07T18:00:00+08:00")
    priority = serializers.CharField(required=False, default="normal")
    owner_unit = serializers.IntegerField(required=False, allow_null=True)
    owner_user = serializers.IntegerField(required=False, allow_null=True)
    tasks = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    divisions = serializers.ListField(child=serializers.CharField(), required=False, default=list)


TEXT = inline_serializer("OrderText", {"text": serializers.CharField()})
REASON = inline_serializer("OrderReason", {"reason": serializers.CharField()})


def parse_deadline(value) -> object:
    """The deadline as an aware datetime, or a ValidationError naming `deadline`."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise DjangoValidationError({"deadline": [_("Give the deadline as a date and time (ISO 8601).")]})
    if parsed.tzinfo is None:
        from django.utils import timezone

        parsed = timezone.make_aware(parsed)
    return parsed


class SupervisionOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = OrderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no account, only the model
            return SupervisionOrder.objects.none()
        user = request_user(self.request)
        if self.action == "list":
            params = self.request.query_params
            filters = services.ListFilters(
                scope=params.get("scope", ""),
                state=params.get("state", ""),
                priority=params.get("priority", ""),
                overdue=params.get("overdue", "") in ("1", "true", "yes"),
            )
            queryset = call(services.filter_orders, user=user, filters=filters)
        else:
            queryset = services.orders_visible_to(user).select_related("owner_unit", "owner_user", "issuer")
        return queryset.prefetch_related("tasks", "divisions", "events__actor")

    def get_serializer_class(self):
        return OrderDetailSerializer if self.action != "list" else OrderSerializer

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderDetailSerializer})
    def create(self, request, *args, **kwargs):
        user = request_user(request)
        if not services.can_issue(user):
            raise exceptions.PermissionDenied(
                _("Only a commander or a duty officer may issue supervision orders.")
            )
        payload = OrderCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        deadline = call(parse_deadline, value=data["deadline"])
        order = call(
            services.issue_order,
            actor=user,
            title=data["title"],
            text=data.get("text", ""),
            deadline=deadline,
            priority=data.get("priority") or "normal",
            owner_unit=data.get("owner_unit"),
            owner_user=data.get("owner_user"),
            tasks=data.get("tasks", []),
            divisions=data.get("divisions", []),
        )
        return Response(self._detail(order), status=status.HTTP_201_CREATED)

    def _detail(self, order) -> dict:
        fresh = self.get_queryset().get(pk=order.pk)
        return OrderDetailSerializer(fresh, context={"request": self.request}).data

    @staticmethod
    def _field(request, name: str, default=None):
        """One field of the JSON object body; a body that is not an object is a 400, not a crash."""
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        return request.data.get(name, default)

    def _move(self, request, service, **kwargs):
        order = self.get_object()  # 404 outside the issuer's and the owner's territory
        order = call(service, order=order, actor=request_user(request), **kwargs)
        return Response(self._detail(order))

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._move(request, services.acknowledge_order)

    @extend_schema(request=TEXT, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        return self._move(request, services.reply_order, text=self._field(request, "text"))

    @extend_schema(request=TEXT, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._move(request, services.complete_order, text=self._field(request, "text", ""))

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._move(request, services.accept_order)

    @extend_schema(request=REASON, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"], url_path="send-back")
    def send_back(self, request, pk=None):
        return self._move(request, services.send_back_order, reason=self._field(request, "reason"))
