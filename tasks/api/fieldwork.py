"""Field work API (issue 5): /api/v1/tasks/{id}/attempts/, radius/, trajectory/ (+ {entry_id}/, traced/),
contacts/, tests/, submit/, registration/ (the returnee registration), fieldwork/ (everything at once,
what the phone caches), and
/api/v1/field/tasks/ (the open tasks of the caller's village or team).

Every route fetches the task through `selectors.get_visible_or_404` (outside the territory: 404), asks
`roles.can` (reads: task.view, writes: task.fieldwork; otherwise 403) and calls one service of
tasks/fieldwork.py. Errors: 400 `{"detail", "errors": {field: [reason]}}`; 409 `{"detail", "code",
"task": {"id", "status", "status_label", "version"}}` when the form is stale or the task no longer takes
field work. Writes answer 201 with the record (200 when the idempotency key was seen before: the same
record) and `task` as it is now, whose `version` the next write must carry.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import fieldwork as services
from ..access_log import record_access
from ..masking import mask_name, mask_record, sees_unmasked
from ..models import (
    AccessAction,
    CloseContact,
    ContactAttempt,
    IdType,
    RadiusControl,
    Registration,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from ..selectors import get_visible_or_404, transfers_visible_to
from ..workflow import IllegalTransition
from .permissions import capability, request_user

# --- output ------------------------------------------------------------------------------------------


class _RecordSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.display_name", read_only=True, allow_null=True)
    task = serializers.IntegerField(source="task_id", read_only=True)

    COMMON = ["id", "task", "idempotency_key", "created_by", "created_at", "updated_at"]

    def unmasked(self) -> bool:
        context = self.context
        if "unmasked" not in context:
            request = context.get("request")
            # The stubs type the context as a read-only Mapping; it is the root serializer's dict.
            context["unmasked"] = sees_unmasked(getattr(request, "user", None))  # type: ignore[index]
        return context["unmasked"]


class AttemptOut(_RecordSerializer):
    class Meta:
        model = ContactAttempt
        fields = [*_RecordSerializer.COMMON, "method", "reached", "attempted_at", "note"]


class RadiusOut(_RecordSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    division_name = serializers.CharField(source="division.name", read_only=True)

    class Meta:
        model = RadiusControl
        fields = [
            *_RecordSerializer.COMMON,
            "division_code",
            "division_name",
            "address",
            "latitude",
            "longitude",
            "location_accuracy_m",
            "measure",
            "quarantine_site",
            "controlled_at",
            "note",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record("radius", data, unmasked=self.unmasked(), division_name=instance.division.name)


class TrajectoryOut(_RecordSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True, allow_null=True)
    division_name = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = TrajectoryEntry
        fields = [
            *_RecordSerializer.COMMON,
            "started_at",
            "ended_at",
            "place_name",
            "address",
            "division_code",
            "division_name",
            "latitude",
            "longitude",
            "activity",
            "transport",
            "vehicle_number",
            "seat",
            "companions",
            "revision",
            "deleted",
        ]

    def get_division_name(self, entry) -> str:
        return entry.division.name if entry.division_id else ""

    def get_deleted(self, entry) -> bool:
        return entry.deleted_at is not None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record("trajectory", data, unmasked=self.unmasked(), division_name=data["division_name"])


class ContactOut(_RecordSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    division_name = serializers.CharField(source="division.name", read_only=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    lead_task = serializers.SerializerMethodField()
    # The document type is kept on the lead (the record's number is the lead's): like a person's, it
    # is not masked; the number is (mask_record "contact").
    id_type = serializers.SerializerMethodField()

    class Meta:
        model = CloseContact
        fields = [
            *_RecordSerializer.COMMON,
            "name",
            "id_type",
            "id_number",
            "phone",
            "relation",
            "last_contact_at",
            "last_contact_place",
            "division_code",
            "division_name",
            "address",
            "lead",
            "lead_task",
        ]

    def get_id_type(self, contact) -> str:
        return contact.lead.id_type if contact.lead_id else IdType.RESIDENT_ID

    def get_lead_task(self, contact) -> int | None:
        """The task the next intake batch made of this contact (None while the lead is pending)."""
        return contact.lead.task_id if contact.lead_id else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record("contact", data, unmasked=self.unmasked(), division_name=instance.division.name)


class RegistrationOut(_RecordSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    division_name = serializers.CharField(source="division.name", read_only=True)

    class Meta:
        model = Registration
        fields = [
            *_RecordSerializer.COMMON,
            "arrived_at",
            "arrived_from",
            "division_code",
            "division_name",
            "address",
            "health_state",
            "phone_confirmed",
            "note",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record(
            "registration", data, unmasked=self.unmasked(), division_name=instance.division.name
        )


class TestOut(_RecordSerializer):
    class Meta:
        model = TestResult
        fields = [*_RecordSerializer.COMMON, "sampled_at", "test_type", "result", "lab", "note"]


def task_state(task: TracingTask) -> dict:
    return {
        "id": task.pk,
        "status": task.status,
        "status_label": str(task.get_status_display()),
        "version": task.version,
        "radius_due": serializers.DateTimeField().to_representation(task.radius_due)
        if task.radius_due
        else None,
        "trace_due": serializers.DateTimeField().to_representation(task.trace_due)
        if task.trace_due
        else None,
        "radius_limited_at": serializers.DateTimeField().to_representation(task.radius_limited_at)
        if task.radius_limited_at
        else None,
        "traced_at": serializers.DateTimeField().to_representation(task.traced_at)
        if task.traced_at
        else None,
        "editable": task.status in services.FIELD_EDITABLE,
        "kind": task.kind,
        "verify_due": _time_or_none(task.verify_due),
        "register_due": _time_or_none(task.register_due),
        "registered_at": _time_or_none(task.registered_at),
    }


def _time_or_none(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


# --- input ---------------------------------------------------------------------------------------------
# The request bodies, for the OpenAPI schema and its clients. The services of tasks/fieldwork.py read the
# raw object and stay its one validator: they answer a resent idempotency key with the record it made
# and a stale `version` with 409 before they look at the fields (a phone replaying its offline queue
# depends on that order), and their field-named reasons are the API's.


def _text(max_length: int, help_text: str = "", **kwargs) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, help_text=help_text, **kwargs
    )


def _coordinate(bound: int) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=-bound,
        max_value=bound,
        coerce_to_string=False,
        required=False,
        allow_null=True,
        help_text="WGS-84 degrees; give latitude and longitude together.",
    )


class _WriteInput(serializers.Serializer):
    version = serializers.IntegerField(
        help_text="The task's version as last read (also accepted as ?version=); stale: 409."
    )


class _RecordInput(_WriteInput):
    idempotency_key = serializers.UUIDField(
        help_text="Made by the client for this form; sending it again answers with the same record."
    )


class ContactAttemptInput(_RecordInput):
    method = serializers.ChoiceField(choices=ContactAttempt.Method.choices)
    reached = serializers.BooleanField()
    attempted_at = serializers.DateTimeField()
    note = _text(2000)


class RadiusControlInput(_RecordInput):
    division_code = serializers.CharField(help_text="Where the person is now: a county, township or village.")
    address = _text(500)
    latitude = _coordinate(90)
    longitude = _coordinate(180)
    location_accuracy_m = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    measure = serializers.ChoiceField(choices=RadiusControl.Measure.choices)
    quarantine_site = _text(200, "Required for centralised quarantine.")
    controlled_at = serializers.DateTimeField()
    note = _text(2000)


class TrajectoryEntryInput(_RecordInput):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    place_name = serializers.CharField(max_length=200)
    address = _text(500)
    division_code = serializers.CharField(required=False, allow_blank=True)
    latitude = _coordinate(90)
    longitude = _coordinate(180)
    activity = _text(2000)
    transport = serializers.ChoiceField(
        choices=TrajectoryEntry.Transport.choices, required=False, default=TrajectoryEntry.Transport.NONE
    )
    vehicle_number = _text(50, "Required for a train or flight.")
    seat = _text(30)
    companions = _text(2000)


class TrajectoryEntryEditInput(TrajectoryEntryInput):
    """Any subset of the entry's fields; the others keep their values."""

    idempotency_key = serializers.UUIDField(
        required=False, help_text="Optional: sending the same edit again changes nothing."
    )
    revision = serializers.IntegerField(
        required=False, help_text="The entry's revision as last read; another edit since: 409."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in fields.items():
            if name != "version":
                field.required = False
        return fields


class TrajectoryEntryDeleteInput(_WriteInput):
    revision = serializers.IntegerField(required=False)


class CloseContactInput(_RecordInput):
    """Give the ID number, or the phone, or the name and the address (to find the person)."""

    name = _text(50)
    id_type = serializers.ChoiceField(
        choices=IdType.choices,
        required=False,
        allow_blank=True,
        help_text="The document id_number is; absent or empty: a resident ID (as in lead files).",
    )
    id_number = _text(30, "The document's number (a resident ID: 18 characters).")
    phone = _text(30, "A mainland mobile, a landline with its area code, or +country code and number.")
    relation = serializers.ChoiceField(choices=CloseContact.Relation.choices)
    last_contact_at = serializers.DateTimeField()
    last_contact_place = _text(200)
    division_code = serializers.CharField(help_text="Where the contact lives: a county, township or village.")
    address = _text(500)


class TestResultInput(_RecordInput):
    sampled_at = serializers.DateTimeField()
    test_type = serializers.ChoiceField(choices=TestResult.Type.choices)
    result = serializers.ChoiceField(choices=TestResult.Result.choices)
    lab = _text(200)
    note = _text(2000)


class RegistrationInput(_RecordInput):
    arrived_at = serializers.DateTimeField(help_text="When the returnee arrived.")
    arrived_from = serializers.CharField(max_length=200, help_text="Where from (city, county or country).")
    division_code = serializers.CharField(
        help_text="Where the returnee stays: a county, township or village."
    )
    address = _text(500, "Address of stay.")
    health_state = serializers.ChoiceField(choices=Registration.HealthState.choices)
    phone_confirmed = serializers.BooleanField(help_text="The person answered on the phone number on file.")
    note = _text(2000, "Required when the person has symptoms.")


class TracedInput(_WriteInput):
    pass


class SubmitInput(_WriteInput):
    idempotency_key = serializers.UUIDField(
        required=False, help_text="Optional: submitting again with the same key answers 200."
    )
    no_close_contacts = serializers.BooleanField(
        required=False, help_text="Confirms that the person named no close contacts."
    )
    note = _text(2000)


def _record_schema(request: type[serializers.Serializer]) -> Callable[[type[APIView]], type[APIView]]:
    return extend_schema_view(
        get=extend_schema(responses=OpenApiTypes.OBJECT),
        post=extend_schema(request=request, responses=OpenApiTypes.OBJECT),
    )


# --- views ---------------------------------------------------------------------------------------------


class FieldAPIView(APIView):
    """Fetch-and-authorise, the service call, and the mapping of service errors to HTTP."""

    permission_classes = [capability("task.view", "task.fieldwork")]

    def get_task(self) -> TracingTask:
        task_id = self.kwargs["task_id"]
        try:
            return get_visible_or_404(
                self.request.user, TracingTask.objects.select_related("division"), pk=task_id
            )
        except Http404:
            if self.request.method not in ("GET", "HEAD", "OPTIONS"):
                self._raise_if_transferred_away(task_id)
            raise

    def _raise_if_transferred_away(self, task_id) -> None:
        """A phone writing to a task that was transferred out of its territory while it was offline gets
        a 409 that says where the task went (the sender's side of the transfer is visible to it anyway),
        not a bare 404."""
        transfer = (
            transfers_visible_to(self.request.user)
            .filter(task_id=task_id, status="accepted")
            .order_by("-decided_at")
            .first()
        )
        user = request_user(self.request)
        if (
            transfer is not None
            and user.division_id
            and transfer.from_division_id.startswith(user.division_id)
        ):
            raise services.FieldConflict(
                "transferred",
                _("This task was transferred to %(to)s meanwhile (by %(who)s). Your form was not saved.")
                % {
                    "to": transfer.to_division.name,
                    "who": transfer.decided_by.display_name if transfer.decided_by else "",
                },
            )

    def handle_exception(self, exc):
        if isinstance(exc, services.FieldConflict):
            return Response(exc.as_dict(), status=status.HTTP_409_CONFLICT)
        if isinstance(exc, IllegalTransition):
            return Response(
                {
                    "detail": exc.messages[0],
                    "code": "illegal_transition",
                    "from_status": exc.from_status,
                    "to_status": exc.to_status,
                },
                status=status.HTTP_409_CONFLICT,
            )
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            )
        return super().handle_exception(exc)

    def write(self, service, serializer_class=None, **kwargs) -> Response:
        task = self.get_task()
        data = self.request.data if isinstance(self.request.data, dict) else None
        if data is None:
            raise ValidationError({"non_field_errors": [_("send a JSON object")]})
        data = dict(data.items())
        for name in ("version", "revision"):
            if name not in data and name in self.request.query_params:
                data[name] = self.request.query_params[name]
        outcome = service(task=task, actor=request_user(self.request), data=data, **kwargs)
        body = (
            serializer_class(outcome.record, context={"request": self.request}).data
            if serializer_class and outcome.record
            else {}
        )
        body = {**body, **outcome.extra, "created": outcome.created, "task": task_state(outcome.task)}
        return Response(
            body,
            status=status.HTTP_201_CREATED
            if outcome.created and outcome.record is not None and self.request.method == "POST"
            else status.HTTP_200_OK,
        )


class _RecordList(FieldAPIView):
    serializer_class: type[serializers.Serializer]
    related_name: str
    service: Callable[..., services.Outcome]

    def get(self, request, task_id):
        task = self.get_task()
        rows = getattr(task, self.related_name).select_related("created_by", *self.select)
        record_access(request, action=AccessAction.VIEW, objects=[task, *rows], fields=[self.related_name])
        return Response(
            {
                "task": task_state(task),
                "results": self.serializer_class(rows, many=True, context={"request": request}).data,
            }
        )

    select: tuple[str, ...] = ()

    def post(self, request, task_id):
        return self.write(type(self).service, self.serializer_class)


@_record_schema(ContactAttemptInput)
class AttemptsView(_RecordList):
    """Contact attempts: GET the list, POST `{idempotency_key, version, method: phone|visit, reached,
    attempted_at, note}`."""

    serializer_class = AttemptOut
    related_name = "contact_attempts"
    service = staticmethod(services.record_attempt)


@_record_schema(RadiusControlInput)
class RadiusView(_RecordList):
    """Radius limited: POST `{idempotency_key, version, division_code, address, latitude, longitude,
    location_accuracy_m, measure: home_isolation|centralised_quarantine|hospital|not_reached,
    quarantine_site, controlled_at, note}`. The first limiting record moves the task to radius_limited."""

    serializer_class = RadiusOut
    related_name = "radius_controls"
    select = ("division",)
    service = staticmethod(services.record_radius)


@_record_schema(CloseContactInput)
class ContactsView(_RecordList):
    """Close contacts: POST `{idempotency_key, version, name, id_type, id_number, phone, relation,
    last_contact_at, last_contact_place, division_code, address}`; each becomes a close_contact lead."""

    serializer_class = ContactOut
    related_name = "close_contacts"
    select = ("division", "lead__link")
    service = staticmethod(services.record_contact)


@_record_schema(TestResultInput)
class TestsView(_RecordList):
    """Test results: POST `{idempotency_key, version, sampled_at, test_type: nucleic_acid|antigen|antibody,
    result: positive|negative|pending, lab, note}`."""

    serializer_class = TestOut
    related_name = "test_results"
    service = staticmethod(services.record_test)


@_record_schema(RegistrationInput)
class RegistrationView(_RecordList):
    """Returnee registration: GET the registration of the task, POST `{idempotency_key, version,
    arrived_at, arrived_from, division_code, address, health_state: no_symptoms|fever|other_symptoms,
    phone_confirmed, note}`. The first one sets the task's `registered_at` (the register clock stops)
    and starts health monitoring; a second one is 409 `registered`; a task of another kind is 409
    `not_registration`."""

    serializer_class = RegistrationOut
    related_name = "registrations"
    select = ("division",)
    service = staticmethod(services.record_registration)


@_record_schema(TrajectoryEntryInput)
class TrajectoryView(_RecordList):
    """Trajectory: GET the live entries (`?deleted=1` adds the deleted ones), POST `{idempotency_key,
    version, started_at, ended_at, place_name, address, division_code, latitude, longitude, activity,
    transport, vehicle_number, seat, companions}`."""

    serializer_class = TrajectoryOut
    related_name = "trajectory_entries"
    select = ("division",)
    service = staticmethod(services.trajectory_add)

    def get(self, request, task_id):
        task = self.get_task()
        entries = task.trajectory_entries.select_related("created_by", "division")
        if request.query_params.get("deleted") not in ("1", "true"):
            entries = entries.filter(deleted_at__isnull=True)
        rows = list(entries)
        record_access(request, action=AccessAction.VIEW, objects=[task, *rows], fields=[self.related_name])
        return Response(
            {
                "task": task_state(task),
                "results": TrajectoryOut(rows, many=True, context={"request": request}).data,
            }
        )


@extend_schema_view(
    get=extend_schema(operation_id="v1_tasks_trajectory_entry_retrieve", responses=OpenApiTypes.OBJECT),
    patch=extend_schema(
        operation_id="v1_tasks_trajectory_entry_partial_update",
        request=TrajectoryEntryEditInput,
        responses=OpenApiTypes.OBJECT,
    ),
    put=extend_schema(
        operation_id="v1_tasks_trajectory_entry_update",
        request=TrajectoryEntryEditInput,
        responses=OpenApiTypes.OBJECT,
    ),
    delete=extend_schema(request=TrajectoryEntryDeleteInput, responses=OpenApiTypes.OBJECT),
)
class TrajectoryEntryView(FieldAPIView):
    """One trajectory entry: GET; PATCH/PUT `{version, revision?, idempotency_key?, <fields>}`; DELETE
    `{version, revision?}` (or `?version=`). Refused (409) once the task is submitted."""

    def get(self, request, task_id, entry_id):
        task = self.get_task()
        entry = task.trajectory_entries.select_related("created_by", "division").filter(pk=entry_id).first()
        if entry is None:
            raise Http404
        record_access(request, action=AccessAction.VIEW, objects=[task, entry], fields=["trajectory_entries"])
        return Response({**TrajectoryOut(entry, context={"request": request}).data, "task": task_state(task)})

    def patch(self, request, task_id, entry_id):
        return self.write(services.trajectory_edit, TrajectoryOut, entry_id=entry_id)

    def put(self, request, task_id, entry_id):
        return self.write(services.trajectory_edit, TrajectoryOut, entry_id=entry_id)

    def delete(self, request, task_id, entry_id):
        return self.write(services.trajectory_delete, TrajectoryOut, entry_id=entry_id)


@extend_schema_view(post=extend_schema(request=TracedInput, responses=OpenApiTypes.OBJECT))
class TrajectoryTracedView(FieldAPIView):
    """POST `{version}`: the trajectory is traced (10-hour milestone). 400 names what is missing."""

    def post(self, request, task_id):
        return self.write(services.mark_traced)


@_record_schema(SubmitInput)
class SubmitView(FieldAPIView):
    """GET: `{ready, missing: {item: what to do}}`. POST `{version, idempotency_key?, no_close_contacts?,
    note?}`: completeness check (400 naming each missing item), traced milestone if needed, submit."""

    def get(self, request, task_id):
        task = self.get_task()
        missing = services.missing_for(task)
        record_access(request, action=AccessAction.VIEW, objects=[task], fields=["submit_check"])
        return Response({"task": task_state(task), "ready": not missing, "missing": missing})

    def post(self, request, task_id):
        return self.write(services.submit)


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class FieldworkView(FieldAPIView):
    """Everything the phone needs for one task, in one answer (cached by the service worker)."""

    def get(self, request, task_id):
        task = self.get_task()
        context = {"request": request}
        contacts = list(task.close_contacts.select_related("created_by", "division", "lead__link"))
        record_access(request, action=AccessAction.VIEW, objects=[task, *contacts], fields=["fieldwork"])
        return Response(
            {
                "task": task_state(task),
                "attempts": AttemptOut(
                    task.contact_attempts.select_related("created_by"), many=True, context=context
                ).data,
                "radius": RadiusOut(
                    task.radius_controls.select_related("created_by", "division"), many=True, context=context
                ).data,
                "trajectory": TrajectoryOut(
                    task.trajectory_entries.filter(deleted_at__isnull=True).select_related(
                        "created_by", "division"
                    ),
                    many=True,
                    context=context,
                ).data,
                "contacts": ContactOut(contacts, many=True, context=context).data,
                "tests": TestOut(
                    task.test_results.select_related("created_by"), many=True, context=context
                ).data,
                "registrations": RegistrationOut(
                    task.registrations.select_related("created_by", "division"), many=True, context=context
                ).data,
                "missing": services.missing_for(task),
            }
        )


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class FieldTaskListView(APIView):
    """The caller's open field tasks, nearest deadline first (the "my tasks" page as JSON)."""

    permission_classes = [capability("task.fieldwork")]

    def get(self, request):
        from ..views.field import field_task_rows

        rows = field_task_rows(request.user)
        if rows:
            record_access(
                request, action=AccessAction.VIEW, objects=[row.task for row in rows], fields=["name"]
            )
        unmasked = sees_unmasked(request.user)
        field = serializers.DateTimeField()
        results = [
            {
                "id": row.task.pk,
                "status": row.task.status,
                "status_label": str(row.task.get_status_display()),
                "priority": row.task.priority,
                "version": row.task.version,
                "person": row.task.person.name if unmasked else mask_name(row.task.person.name),
                "division_code": row.task.division_id,
                "division_name": row.task.division.name,
                "mine": row.task.assignee_id == request.user.pk,
                "next_clock": row.clock,
                "next_due": field.to_representation(row.due) if row.due else None,
            }
            for row in rows
        ]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})
