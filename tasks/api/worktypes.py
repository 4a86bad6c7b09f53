"""Work types and the end of a task (docs/worktypes.md). Same pattern as tasks/api/workflow.py: the task
through the scope selector first (outside the caller's territory: 404), then one service (403 role,
409 illegal move naming from and to, 400 with the field named).

POST /api/v1/tasks/{id}/kind/           {"kind", "reason"}
POST /api/v1/tasks/{id}/close/          {"outcome", "note"}
POST /api/v1/tasks/{id}/cancel/         {"reason"}
POST /api/v1/tasks/{id}/reopen/         {"reason"}
POST /api/v1/tasks/merge/               {"keep": id, "merge": id, "reason"}
POST /api/v1/tasks/{id}/verification/   {"found", "risk", "note"} (+ optional "division_code" when moved)
POST /api/v1/tasks/bulk-close/          {"task_ids": [...], "outcome", "note"}
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import worktypes
from ..models import TaskKind, TaskOutcome, TracingTask
from ..selectors import get_visible_or_404
from .serializers import TaskSerializer
from .workflow import _call, _TaskAction, _valid


def _task_answer(request: Request, task: TracingTask, code: int = status.HTTP_200_OK) -> Response:
    task = TracingTask.objects.select_related("person", "division").get(pk=task.pk)
    return Response(TaskSerializer(task, context={"request": request}).data, status=code)


class TaskKindApi(_TaskAction):
    class TaskKindInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=TaskKind.choices)
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=TaskKindInput, responses=TaskSerializer, summary="Change the work type of a task")
    def post(self, request: Request, task_id: int) -> Response:
        task = self.task(request, task_id)
        data = _valid(self.TaskKindInput, request)
        task = _call(
            worktypes.task_change_kind,
            task=task,
            actor=request.user,
            kind=data["kind"],
            reason=data["reason"],
        )
        return _task_answer(request, task)


class TaskCloseApi(_TaskAction):
    class TaskCloseInput(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=TaskOutcome.choices)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(request=TaskCloseInput, responses=TaskSerializer, summary="Close a task with an outcome")
    def post(self, request: Request, task_id: int) -> Response:
        task = self.task(request, task_id)
        data = _valid(self.TaskCloseInput, request)
        task = _call(
            worktypes.task_close, task=task, actor=request.user, outcome=data["outcome"], note=data["note"]
        )
        return _task_answer(request, task)


class TaskReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TaskCancelApi(_TaskAction):
    @extend_schema(
        request=TaskReasonInput, responses=TaskSerializer, summary="Cancel a task (duplicate, error)"
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = self.task(request, task_id)
        data = _valid(TaskReasonInput, request)
        task = _call(worktypes.task_cancel, task=task, actor=request.user, reason=data["reason"])
        return _task_answer(request, task)


class TaskReopenApi(_TaskAction):
    @extend_schema(request=TaskReasonInput, responses=TaskSerializer, summary="Reopen a closed task")
    def post(self, request: Request, task_id: int) -> Response:
        task = self.task(request, task_id)
        data = _valid(TaskReasonInput, request)
        task = _call(worktypes.task_reopen, task=task, actor=request.user, reason=data["reason"])
        return _task_answer(request, task)


class TaskMergeApi(APIView):
    class TaskMergeInput(serializers.Serializer):
        keep = serializers.IntegerField()
        merge = serializers.IntegerField()
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=TaskMergeInput, responses=TaskSerializer, summary="Merge two tasks of one person")
    def post(self, request: Request) -> Response:
        data = _valid(self.TaskMergeInput, request)
        keep = get_visible_or_404(request.user, TracingTask.objects.all(), pk=data["keep"])
        merge = get_visible_or_404(request.user, TracingTask.objects.all(), pk=data["merge"])
        task = _call(worktypes.task_merge, keep=keep, merge=merge, actor=request.user, reason=data["reason"])
        return _task_answer(request, task)


class TaskVerificationApi(_TaskAction):
    class TaskVerificationInput(serializers.Serializer):
        found = serializers.ChoiceField(choices=[(v, v) for v in worktypes.FOUND_VALUES])
        risk = serializers.BooleanField()
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        division_code = serializers.RegexField(r"^\d{4,12}$", required=False, allow_blank=True, default="")

    @extend_schema(
        request=TaskVerificationInput, responses=TaskSerializer, summary="Record the verification outcome"
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = self.task(request, task_id)
        data = _valid(self.TaskVerificationInput, request)
        task = _call(worktypes.task_record_verification, task=task, actor=request.user, **data)
        return _task_answer(request, task)


class TaskBulkCloseApi(APIView):
    class TaskBulkCloseInput(serializers.Serializer):
        task_ids = serializers.ListField(
            child=serializers.IntegerField(), allow_empty=False, max_length=200000
        )
        outcome = serializers.ChoiceField(choices=TaskOutcome.choices)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        request=TaskBulkCloseInput,
        summary="Close many tasks with one outcome",
        responses={200: {"type": "object", "properties": {"closed": {"type": "integer"}}}},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.TaskBulkCloseInput, request)
        closed = _call(worktypes.tasks_close_bulk, actor=request.user, **data)
        return Response({"closed": closed})
