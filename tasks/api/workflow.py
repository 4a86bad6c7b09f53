"""Workflow endpoints (issue 4): one APIView per operation (HackSoft), each fetching the task through the
scope selector first (outside the caller's territory: 404), then calling one service, which checks the
role (403) and the state machine (409).

POST /api/v1/tasks/{id}/assign/           {"assignee": id} or {"subunit": id}, optional "reason"
POST /api/v1/tasks/{id}/receive/
POST /api/v1/tasks/{id}/resolve/          {"division_code": "460105001001"}
POST /api/v1/tasks/{id}/transfer/         {"division_code": ..., "reason": ...}
POST /api/v1/tasks/{id}/transfer/accept/
POST /api/v1/tasks/{id}/transfer/reject/  {"reason": ...}
POST /api/v1/tasks/bulk-assign/           {"task_ids": [...], "assignee": id | "subunit": id, "reason": ...}
GET  /api/v1/escalations/?clock=&level=&task=&division=
GET  /api/v1/transfers/?box=incoming|outgoing&status=
GET  /api/v1/notifications/?unread=true, GET .../unread-count/, POST .../read/ {"ids": [...]} or {"all": true}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import workflow
from ..models import AlertLevel, Clock, Escalation, Notification, TracingTask, Transfer, Unit, User
from ..notify import notifications_mark_read, render, unread_count
from ..roles import can
from ..selectors import (
    get_visible_or_404,
    pending_transfer_for_receiver_or_404,
    transfers_visible_to,
    units_visible_to,
    visible_to,
)
from .permissions import request_user


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "illegal_transition"


class BulkRefusedError(Exception):
    """Answered by TaskBulkAssignApi as 400 with the task ids (as numbers) per reason."""

    def __init__(self, exc):
        self.message, self.problems = exc.messages[0], exc.problems


def _call(service, **kwargs):
    """Run a service; turn its Django exceptions into API answers (400, 403, 409 with the reason)."""
    try:
        return service(**kwargs)
    except workflow.IllegalTransition as exc:
        raise Conflict(
            {
                "detail": exc.messages[0],
                "code": "illegal_transition",
                "from_status": exc.from_status,
                "to_status": exc.to_status,
            }
        ) from None
    except workflow.BulkRefused as exc:
        raise BulkRefusedError(exc) from None
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc) or None) from None
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        ) from None


class TaskStateSerializer(serializers.ModelSerializer):
    """What a workflow action answers: the task's state, place, people and clocks."""

    division_code = serializers.CharField(source="division_id", read_only=True)
    team = serializers.IntegerField(source="team_id", read_only=True)
    subunit = serializers.IntegerField(source="subunit_id", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True)
    pending_transfer = serializers.SerializerMethodField()

    class Meta:
        model = TracingTask
        fields = [
            "id",
            "status",
            "priority",
            "division_code",
            "unresolved_reason",
            "team",
            "subunit",
            "assignee",
            "dispatch_due",
            "dispatched_at",
            "received_at",
            "radius_due",
            "radius_limited_at",
            "trace_due",
            "traced_at",
            "submitted_at",
            "next_alert_at",
            "version",
            "pending_transfer",
        ]

    def get_pending_transfer(self, task) -> dict | None:
        transfer = workflow.pending_transfer(task)
        if transfer is None:
            return None
        return {"id": transfer.pk, "to_division_code": transfer.to_division_id, "reason": transfer.reason}


def _answer(task: TracingTask, code=status.HTTP_200_OK) -> Response:
    task.refresh_from_db()
    return Response(TaskStateSerializer(task).data, status=code)


class _TaskAction(APIView):
    def task(self, request, task_id: int) -> TracingTask:
        return get_visible_or_404(request.user, TracingTask.objects.all(), pk=task_id)


class TaskAssignApi(_TaskAction):
    class TaskAssignInput(serializers.Serializer):
        assignee = serializers.IntegerField(required=False)
        subunit = serializers.IntegerField(required=False)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=TaskAssignInput, responses=TaskStateSerializer, summary="Re-assign a task")
    def post(self, request, task_id: int):
        task = self.task(request, task_id)
        data = _valid(self.TaskAssignInput, request)
        assignee, subunit = _assignee_or_subunit(request.user, data)
        task = _call(
            workflow.task_assign,
            task=task,
            actor=request.user,
            assignee=assignee,
            subunit=subunit,
            reason=data["reason"],
        )
        return _answer(task)


class TaskBulkAssignApi(APIView):
    class TaskBulkAssignInput(serializers.Serializer):
        task_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, max_length=5000)
        assignee = serializers.IntegerField(required=False)
        subunit = serializers.IntegerField(required=False)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=TaskBulkAssignInput,
        summary="Re-assign many selected tasks",
        responses={200: {"type": "object", "properties": {"assigned": {"type": "integer"}}}},
    )
    def post(self, request):
        if not can(request.user, "task.assign"):
            raise exceptions.PermissionDenied()
        data = _valid(self.TaskBulkAssignInput, request)
        assignee, subunit = _assignee_or_subunit(request.user, data)
        try:
            count = _call(
                workflow.task_assign_bulk,
                task_ids=data["task_ids"],
                actor=request.user,
                assignee=assignee,
                subunit=subunit,
                reason=data["reason"],
            )
        except BulkRefusedError as exc:
            return Response(
                {"detail": "Invalid input.", "errors": {"task_ids": [exc.message]}, "problems": exc.problems},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"assigned": count})


class TaskReceiveApi(_TaskAction):
    @extend_schema(request=None, responses=TaskStateSerializer, summary="Confirm receipt (回单)")
    def post(self, request, task_id: int):
        task = _call(workflow.task_receive, task=self.task(request, task_id), actor=request.user)
        return _answer(task)


class TaskResolveApi(_TaskAction):
    class TaskResolveInput(serializers.Serializer):
        division_code = serializers.RegexField(r"^\d{12}$")

    @extend_schema(
        request=TaskResolveInput, responses=TaskStateSerializer, summary="Resolve the village and dispatch"
    )
    def post(self, request, task_id: int):
        task = self.task(request, task_id)
        data = _valid(self.TaskResolveInput, request)
        task = _call(
            workflow.task_resolve_division, task=task, actor=request.user, division_code=data["division_code"]
        )
        return _answer(task)


class TaskTransferApi(_TaskAction):
    class TaskTransferInput(serializers.Serializer):
        division_code = serializers.RegexField(r"^\d{4,12}$")
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        request=TaskTransferInput,
        responses=TaskStateSerializer,
        summary="Transfer (转办) to another jurisdiction",
    )
    def post(self, request, task_id: int):
        task = self.task(request, task_id)
        data = _valid(self.TaskTransferInput, request)
        _call(
            workflow.task_transfer,
            task=task,
            actor=request.user,
            division_code=data["division_code"],
            reason=data["reason"],
        )
        return _answer(task, status.HTTP_201_CREATED)


def _task_for_decision(request, task_id: int) -> TracingTask:
    """The receiving desk reaches the task through the pending transfer addressed to it; anyone else
    only through the task's own territory (the sender then gets 403 from the service)."""
    try:
        return pending_transfer_for_receiver_or_404(request.user, task_id).task
    except Http404:
        return get_visible_or_404(request.user, TracingTask.objects.all(), pk=task_id)


class TaskTransferAcceptApi(APIView):
    @extend_schema(request=None, responses=TaskStateSerializer, summary="Accept a transfer")
    def post(self, request, task_id: int):
        task = _call(
            workflow.task_transfer_accept, task=_task_for_decision(request, task_id), actor=request.user
        )
        return _answer(task)


class TaskTransferRejectApi(APIView):
    class TaskTransferRejectInput(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        request=TaskTransferRejectInput, responses=TaskStateSerializer, summary="Reject a transfer"
    )
    def post(self, request, task_id: int):
        task = _task_for_decision(request, task_id)
        data = _valid(self.TaskTransferRejectInput, request)
        task = _call(workflow.task_transfer_reject, task=task, actor=request.user, reason=data["reason"])
        return _answer(task)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _assignee_or_subunit(user, data) -> tuple[User | None, Unit | None]:
    if ("assignee" in data) == ("subunit" in data):
        raise exceptions.ValidationError({"non_field_errors": ["Give either assignee or subunit."]})
    if "assignee" in data:
        # Only people the caller can see may be named; anyone else is "not found" (no probing).
        assignee = (
            visible_to(user, User.objects.filter(is_superuser=False), path="division__code")
            .filter(pk=data["assignee"])
            .first()
        )
        if assignee is None:
            raise exceptions.ValidationError({"assignee": ["No such account in your territory."]})
        return assignee, None
    subunit = units_visible_to(user).filter(pk=data["subunit"]).first()
    if subunit is None:
        raise exceptions.ValidationError({"subunit": ["No such sub-unit in your territory."]})
    return None, subunit


# --- escalations, transfers, notifications -------------------------------------------------------


class EscalationSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="task_id", read_only=True)
    division_code = serializers.CharField(source="task.division_id", read_only=True)
    division_at_escalation = serializers.CharField(source="division_id", read_only=True)
    task_status = serializers.CharField(source="task.status", read_only=True)

    class Meta:
        model = Escalation
        fields = [
            "id",
            "task",
            "clock",
            "level",
            "due_at",
            "deadline",
            "created_at",
            "division_code",
            "division_at_escalation",
            "task_status",
        ]


class EscalationViewSet(viewsets.ReadOnlyModelViewSet):
    """Clock escalations in the caller's territory (by the task's current division)."""

    serializer_class = EscalationSerializer
    queryset = Escalation.objects.none()  # for the schema; get_queryset() scopes

    @extend_schema(
        parameters=[
            OpenApiParameter("clock", str, enum=Clock.values),
            OpenApiParameter("level", str, enum=AlertLevel.values),
            OpenApiParameter("task", int),
            OpenApiParameter(
                "division", str, description="division code prefix (the task's current division)"
            ),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Escalation.objects.none()
        if not can(self.request.user, "task.view"):
            raise exceptions.PermissionDenied()
        queryset = visible_to(self.request.user, Escalation.objects.select_related("task"))
        params = self.request.query_params
        for name, choices in (("clock", Clock.values), ("level", AlertLevel.values)):
            if value := params.get(name):
                if value not in choices:
                    raise exceptions.ValidationError({name: [f"must be one of {', '.join(choices)}"]})
                queryset = queryset.filter(**{name: value})
        if task := params.get("task"):
            if not task.isdigit():
                raise exceptions.ValidationError({"task": ["must be a task id"]})
            queryset = queryset.filter(task_id=int(task))
        if division := params.get("division"):
            if not division.isdigit() or len(division) > 12:
                raise exceptions.ValidationError({"division": ["a division code has only digits"]})
            queryset = queryset.filter(task__division__code__startswith=division)
        return queryset.order_by("-due_at", "-id")


class TransferSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="task_id", read_only=True)
    from_division_code = serializers.CharField(source="from_division_id", read_only=True)
    to_division_code = serializers.CharField(source="to_division_id", read_only=True)
    to_division_name = serializers.CharField(source="to_division.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.display_name", read_only=True)
    decided_by = serializers.CharField(source="decided_by.display_name", default=None, read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "task",
            "status",
            "from_division_code",
            "to_division_code",
            "to_division_name",
            "from_status",
            "reason",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_reason",
        ]


class TransferViewSet(viewsets.ReadOnlyModelViewSet):
    """Transfers sent from, or addressed to, the caller's territory. `box=incoming` is the receiving
    desk's inbox, `box=outgoing` what the caller's territory sent."""

    serializer_class = TransferSerializer
    queryset = Transfer.objects.none()  # for the schema; get_queryset() scopes

    @extend_schema(
        parameters=[
            OpenApiParameter("box", str, enum=["incoming", "outgoing"]),
            OpenApiParameter("status", str, enum=Transfer.Status.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Transfer.objects.none()
        user = request_user(self.request)
        queryset = transfers_visible_to(user)
        params = self.request.query_params
        prefix = "" if user.is_superuser else (user.division_id or "")
        box = params.get("box")
        if box == "incoming":
            queryset = queryset.filter(to_division__code__startswith=prefix)
        elif box == "outgoing":
            queryset = queryset.filter(from_division__code__startswith=prefix)
        elif box:
            raise exceptions.ValidationError({"box": ["must be incoming or outgoing"]})
        if value := params.get("status"):
            if value not in Transfer.Status.values:
                raise exceptions.ValidationError(
                    {"status": [f"must be one of {', '.join(Transfer.Status.values)}"]}
                )
            queryset = queryset.filter(status=value)
        return queryset.order_by("-requested_at", "-id")


class NotificationSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="task_id", read_only=True)
    subject = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "task", "subject", "body", "data", "created_at", "read_at"]

    def get_subject(self, obj) -> str:
        return render(obj)[0]

    def get_body(self, obj) -> str:
        return render(obj)[1]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's own in-app inbox."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset() scopes

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        queryset = Notification.objects.filter(recipient=request_user(self.request))
        if self.request.query_params.get("unread") in ("1", "true", "yes"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        request=None, responses={200: {"type": "object", "properties": {"unread": {"type": "integer"}}}}
    )
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": unread_count(request.user)})

    class NotificationReadInput(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(), required=False)
        all = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=NotificationReadInput, responses={200: {"type": "object"}})
    @action(detail=False, methods=["post"], url_path="read")
    def read(self, request):
        data = _valid(self.NotificationReadInput, request)
        if not data["all"] and not data.get("ids"):
            raise exceptions.ValidationError({"ids": ["Give ids, or all=true."]})
        marked = notifications_mark_read(user=request.user, ids=None if data["all"] else data["ids"])
        return Response({"marked": marked, "unread": unread_count(request.user)})


__all__ = [
    "EscalationViewSet",
    "NotificationViewSet",
    "TaskAssignApi",
    "TaskBulkAssignApi",
    "TaskReceiveApi",
    "TaskResolveApi",
    "TaskTransferAcceptApi",
    "TaskTransferApi",
    "TaskTransferRejectApi",
    "TransferViewSet",
]
