"""The monitoring API (docs/monitoring.md "API"):

* `GET /api/v1/monitoring/` — periods of the caller's territory (`?state=`, `?due_today=true`);
* `GET /api/v1/monitoring/{id}/` — one period with its check-ins, samples and alerts;
* `POST /api/v1/monitoring/{id}/checkins/` — today's check-in (201; 200 for a resent idempotency key);
* `POST /api/v1/monitoring/{id}/release/` — release the person (409 naming every reason it cannot be);
* `GET /api/v1/monitoring/stats/` — the monitoring figures and the measure execution rate.

Reads need `task.view`, writes `task.fieldwork` (field staff, team leaders); every period is fetched
through the territory scope (outside it: 404). The person is masked by the caller's role
(tasks/masking.py) and every read of a period is in the access log.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from tasks.access_log import record_access
from tasks.api.permissions import capability, request_user
from tasks.masking import mask_record, sees_unmasked
from tasks.models import AccessAction, Role, UnitMembership
from tasks.selectors import visible_to

from . import stats as monitoring_stats
from .clock import local_day
from .models import (
    CheckIn,
    CheckInChannel,
    MonitoringAlert,
    MonitoringPeriod,
    PeriodState,
    SampleDue,
    Symptom,
)
from .models.periods import OPEN_STATES
from .services.checkins import record_checkin
from .services.release import ReleaseRefused, release_period

# States in which a check-in is still asked of the person (a person lost contact is looked for).
DUE_STATES = (*OPEN_STATES, PeriodState.LOST_CONTACT)


def periods_visible_to(user, *, now=None):
    today = local_day(now or timezone.now())
    return (
        visible_to(user, MonitoringPeriod.objects.all())
        .select_related("person", "division", "subunit")
        .annotate(
            checked_in_today=Exists(CheckIn.objects.filter(period=OuterRef("pk"), day=today)),
        )
        .order_by("-starts_on", "-id")
    )


def due_today(queryset, today):
    """Periods whose person owes today's check-in and has not given it yet."""
    return queryset.filter(state__in=DUE_STATES, starts_on__lte=today, ends_on__gte=today).exclude(
        Exists(CheckIn.objects.filter(period=OuterRef("pk"), day=today))
    )


# --- output ------------------------------------------------------------------------------------------


class PeriodPersonOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    id_number = serializers.CharField()
    phone = serializers.CharField()
    case_status = serializers.CharField()


class CheckInOut(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.display_name", read_only=True, allow_null=True)

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "day",
            "channel",
            "temperature",
            "symptoms",
            "location",
            "note",
            "abnormal",
            "recorded_by",
            "recorded_at",
            "idempotency_key",
        ]


class SampleOut(serializers.ModelSerializer):
    class Meta:
        model = SampleDue
        fields = ["id", "schedule_day", "due_on", "test_type", "state", "done_at", "result"]


class AlertOut(serializers.ModelSerializer):
    class Meta:
        model = MonitoringAlert
        fields = ["id", "kind", "day", "checkin", "created_at", "acknowledged_at"]


class PeriodOut(serializers.ModelSerializer):
    person = serializers.SerializerMethodField()
    division_code = serializers.CharField(source="division_id", read_only=True)
    division_name = serializers.CharField(source="division.name", read_only=True)
    subunit = serializers.IntegerField(source="subunit_id", read_only=True, allow_null=True)
    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    disposal = serializers.IntegerField(source="disposal_id", read_only=True, allow_null=True)
    checked_in_today = serializers.SerializerMethodField()

    class Meta:
        model = MonitoringPeriod
        fields = [
            "id",
            "state",
            "measure",
            "origin",
            "starts_on",
            "ends_on",
            "division_code",
            "division_name",
            "subunit",
            "task",
            "disposal",
            "person",
            "due_day",
            "next_due_at",
            "consecutive_misses",
            "last_checkin_at",
            "checked_in_today",
            "abnormal_open",
            "released_at",
        ]

    def _unmasked(self) -> bool:
        context = self.context
        if "unmasked" not in context:
            request = context.get("request")
            context["unmasked"] = sees_unmasked(getattr(request, "user", None))  # type: ignore[index]
        return context["unmasked"]

    def get_person(self, period: MonitoringPeriod) -> dict:
        person = period.person
        data = {
            "id": person.pk,
            "name": person.name,
            "id_number": person.id_number,
            "phone": person.phone,
            "case_status": person.case_status,
        }
        return dict(
            mask_record("person", data, unmasked=self._unmasked(), division_name=period.division.name)
        )

    def get_checked_in_today(self, period: MonitoringPeriod) -> bool:
        value = getattr(period, "checked_in_today", None)
        if value is None:
            value = period.checkins.filter(day=local_day(timezone.now())).exists()
        return bool(value)


class PeriodDetailOut(PeriodOut):
    checkins = CheckInOut(many=True, read_only=True)
    samples = SampleOut(many=True, read_only=True)
    alerts = AlertOut(many=True, read_only=True)
    released_by = serializers.CharField(source="released_by.display_name", read_only=True, allow_null=True)

    class Meta(PeriodOut.Meta):
        fields = [*PeriodOut.Meta.fields, "released_by", "note", "checkins", "samples", "alerts"]


# --- input (OpenAPI bodies; the service validates and names the field) ---------------------------------


class CheckInInput(serializers.Serializer):
    temperature = serializers.DecimalField(
        max_digits=3, decimal_places=1, required=False, allow_null=True, help_text="°C, 34.0 to 43.0"
    )
    symptoms = serializers.ListField(
        child=serializers.ChoiceField(choices=Symptom.choices),
        required=False,
        help_text="any of the symptoms",
    )
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    idempotency_key = serializers.UUIDField(
        required=False, help_text="A resent check-in with the same key answers 200 with the stored one."
    )


class ReleaseInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    notify_person = serializers.BooleanField(required=False, default=True)


class PeriodStateOut(serializers.ModelSerializer):
    """The period as a write leaves it: its state and clock, no field of the person."""

    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    released_by = serializers.CharField(source="released_by.display_name", read_only=True, allow_null=True)

    class Meta:
        model = MonitoringPeriod
        fields = [
            "id",
            "state",
            "starts_on",
            "ends_on",
            "task",
            "due_day",
            "next_due_at",
            "consecutive_misses",
            "last_checkin_at",
            "abnormal_open",
            "released_at",
            "released_by",
        ]


class CheckInAnswer(serializers.Serializer):
    created = serializers.BooleanField()
    checkin = CheckInOut()
    period = PeriodStateOut()


def _state_param(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in PeriodState.values:
        raise ValidationError({"state": [_("one of %(states)s") % {"states": ", ".join(PeriodState.values)}]})
    return value


def _bool_param(name: str, value: str | None) -> bool:
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise ValidationError({name: [_("true or false")]})


def _text(body: dict, name: str, limit: int) -> str:
    """A free-text field: text (or a number, as its decimal text), without NUL, at most `limit` long."""
    value = body.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValidationError({name: [_("must be text")]})
    text = str(value)
    if "\x00" in text:
        raise ValidationError({name: [_("must not contain a NUL character")]})
    if len(text) > limit:
        raise ValidationError({name: [_("at most %(n)s characters") % {"n": limit}]})
    return text


def checkin_channel(user, period: MonitoringPeriod) -> str:
    """`field` when the caller is the period's sub-unit (a member, its leader, or field staff of the
    village itself); `api` for any other caller (an integration)."""
    if getattr(user, "role", "") not in (Role.FIELD_STAFF, Role.TEAM_LEADER):
        return CheckInChannel.API
    if user.division_id == period.division_id:
        return CheckInChannel.FIELD
    subunit = period.subunit
    if subunit is not None and (
        subunit.leader_id == user.pk or UnitMembership.objects.filter(unit_id=subunit.pk, user=user).exists()
    ):
        return CheckInChannel.FIELD
    return CheckInChannel.API


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=list(PeriodState.values)),
            OpenApiParameter("due_today", bool, description="only persons who owe today's check-in"),
        ]
    ),
    retrieve=extend_schema(responses=PeriodDetailOut),
)
class MonitoringViewSet(viewsets.ReadOnlyModelViewSet):
    """Monitoring periods of the caller's territory, newest first."""

    serializer_class = PeriodOut
    permission_classes = [IsAuthenticated, capability("task.view", "task.fieldwork")]

    def get_queryset(self):
        return periods_visible_to(self.request.user)

    def get_serializer_class(self):
        return PeriodDetailOut if self.action == "retrieve" else PeriodOut

    def filter_queryset(self, queryset):
        params = self.request.query_params
        state = _state_param(params.get("state"))
        if state:
            queryset = queryset.filter(state=state)
        if _bool_param("due_today", params.get("due_today")):
            queryset = due_today(queryset, local_day(timezone.now()))
        return queryset

    def handle_exception(self, exc):
        if isinstance(exc, ReleaseRefused):
            return Response(
                {
                    "detail": " ".join(exc.reasons),
                    "code": "release_refused",
                    "errors": {"release": exc.reasons},
                },
                status=status.HTTP_409_CONFLICT,
            )
        if isinstance(exc, DjangoPermissionDenied):
            exc = PermissionDenied(str(exc))
        elif isinstance(exc, DjangoValidationError):
            exc = ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            )
        return super().handle_exception(exc)

    def retrieve(self, request, *args, **kwargs):
        period = self.get_object()
        record_access(request, action=AccessAction.VIEW, objects=[period])
        return Response(PeriodDetailOut(period, context=self.get_serializer_context()).data)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        if rows:
            record_access(request, action=AccessAction.VIEW, objects=rows)
        data = PeriodOut(rows, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _body(self) -> dict:
        data = self.request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": [_("send a JSON object")]})
        return dict(data.items())

    @extend_schema(request=CheckInInput, responses={200: CheckInAnswer, 201: CheckInAnswer})
    @action(detail=True, methods=["post"], url_path="checkins", url_name="checkins")
    def checkins(self, request, pk=None):
        period = self.get_object()
        user = request_user(request)
        body = self._body()
        unknown = sorted(set(body) - {"temperature", "symptoms", "location", "note", "idempotency_key"})
        if unknown:
            raise ValidationError({name: [_("unknown field")] for name in unknown})
        outcome = record_checkin(
            period,
            channel=checkin_channel(user, period),
            temperature=body.get("temperature"),
            symptoms=body.get("symptoms"),
            location=_text(body, "location", 200),
            note=_text(body, "note", 2000),
            by=user,
            idempotency_key=body.get("idempotency_key"),
        )
        period.refresh_from_db()
        context = self.get_serializer_context()
        answer = {
            "created": outcome.created,
            "checkin": CheckInOut(outcome.checkin, context=context).data,
            "period": PeriodStateOut(period, context=context).data,
        }
        return Response(answer, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)

    @extend_schema(request=ReleaseInput, responses=PeriodStateOut)
    @action(detail=True, methods=["post"], url_path="release", url_name="release")
    def release(self, request, pk=None):
        period = self.get_object()
        body = self._body()
        notify = body.get("notify_person", True)
        if not isinstance(notify, bool):
            raise ValidationError({"notify_person": [_("true or false")]})
        unknown = sorted(set(body) - {"note", "notify_person"})
        if unknown:
            raise ValidationError({name: [_("unknown field")] for name in unknown})
        note = _text(body, "note", 2000)
        release_period(period, by=request_user(request), note=note, notify_person=notify)
        period.refresh_from_db()
        return Response(PeriodStateOut(period, context=self.get_serializer_context()).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("division", str, description="division code inside your territory"),
            OpenApiParameter("date_from", str, description="YYYY-MM-DD (default: 13 days before date_to)"),
            OpenApiParameter("date_to", str, description="YYYY-MM-DD (default: today)"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="stats",
        url_name="stats",
        permission_classes=[IsAuthenticated, capability("stats.view")],
    )
    def stats(self, request):
        try:
            query = monitoring_stats.parse_query(request_user(request), request.query_params)
        except monitoring_stats.OutsideTerritory:
            raise Http404 from None
        except monitoring_stats.BadParameter as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(monitoring_stats.compute(query))
