"""The likely-duplicate queue (docs/people.md):

GET  /api/v1/persons/duplicates/               open pairs of the caller's territory, newest first
POST /api/v1/persons/duplicates/{id}/dismiss/  "not the same person" (never proposed again)
POST /api/v1/persons/duplicates/{id}/merge/    {"keep": person id, "reason"}: merge the pair's tasks
POST /api/v1/persons/duplicates/scan/          run the job now

Names are masked as the role requires and every listed person is recorded in the access log.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import duplicates
from ..access_log import record_access
from ..masking import mask_name, sees_unmasked
from ..models import AccessAction, DuplicateCandidate, DuplicateRule, Person
from ..roles import can
from .serializers import TaskSerializer
from .workflow import _valid

RULE_LABELS = dict(DuplicateRule.choices)


def _require_reviewer(user) -> None:
    if not can(user, "task.merge"):
        raise exceptions.PermissionDenied(_("Only duty officers review likely duplicates."))


def describe_pairs(user, candidates: list[DuplicateCandidate]) -> tuple[list[dict], list]:
    """The pairs as shown (names masked per role) and the open tasks shown, for the access log."""
    shown: list = []
    ids = {c.person_a_id for c in candidates} | {c.person_b_id for c in candidates}
    persons = {p.pk: p for p in Person.objects.filter(pk__in=ids)}
    unmasked = sees_unmasked(user)

    def person(pk: int) -> dict:
        task = duplicates.open_task_of(user, pk)
        if task is not None:
            shown.append(task)
        name = persons[pk].name if pk in persons else ""
        return {
            "id": pk,
            "name": name if unmasked else mask_name(name),
            "case_status": persons[pk].case_status if pk in persons else "none",
            "task": task.pk if task else None,
            "task_status": task.status if task else None,
            "division_code": task.division_id if task else None,
        }

    rows = [
        {
            "id": c.pk,
            "rules": c.rules,
            # The rules in words, in the viewer's language.
            "reasons": [str(RULE_LABELS.get(rule, rule)) for rule in c.rules],
            "evidence": c.evidence,
            "state": c.state,
            "created_at": c.created_at,
            "person_a": person(c.person_a_id),
            "person_b": person(c.person_b_id),
        }
        for c in candidates
    ]
    return rows, shown


def _describe(request: Request, candidates: list[DuplicateCandidate]) -> list[dict]:
    rows, shown = describe_pairs(request.user, candidates)
    if shown:
        record_access(
            request,
            action=AccessAction.VIEW,
            objects=shown,
            fields=["name"],
            reason=_("likely duplicates"),
        )
    return rows


class DuplicateViewSet(viewsets.ViewSet):
    # Only for the schema generator (the path parameter's type); every action reads through the scope.
    queryset = DuplicateCandidate.objects.none()

    class MergeInput(serializers.Serializer):
        keep = serializers.IntegerField()
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def _candidate(self, request: Request, pk: str) -> DuplicateCandidate:
        _require_reviewer(request.user)
        if not str(pk).isdigit():
            raise exceptions.NotFound()
        return get_object_or_404(duplicates.candidates_visible_to(request.user), pk=int(pk))

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Likely duplicates of the territory (open pairs)")
    def list(self, request: Request) -> Response:
        _require_reviewer(request.user)
        queryset = duplicates.candidates_visible_to(request.user)
        page = self.paginator.paginate_queryset(queryset, request, view=self)
        rows = list(page if page is not None else queryset[:200])
        data = _describe(request, rows)
        return self.paginator.get_paginated_response(data) if page is not None else Response(data)

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            from tracing_center.api import Pagination

            self._paginator = Pagination()
        return self._paginator

    @extend_schema(
        request=None, responses=OpenApiTypes.OBJECT, summary="Not the same person: never proposed again"
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str) -> Response:
        candidate = self._candidate(request, pk)
        try:
            candidate = duplicates.duplicate_dismiss(candidate=candidate, actor=request.user)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        except DjangoPermissionDenied:
            raise exceptions.PermissionDenied() from None
        return Response(_describe(request, [candidate])[0])

    @extend_schema(request=MergeInput, responses=TaskSerializer, summary="Merge the pair (task merge)")
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        candidate = self._candidate(request, pk)
        data = _valid(self.MergeInput, request)
        try:
            task = duplicates.duplicate_merge(
                candidate=candidate, keep_person_id=data["keep"], actor=request.user, reason=data["reason"]
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        except DjangoPermissionDenied:
            raise exceptions.PermissionDenied() from None
        return Response(TaskSerializer(task, context={"request": request}).data)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT, summary="Run the likely-duplicate job now")
    @action(detail=False, methods=["post"])
    def scan(self, request: Request) -> Response:
        _require_reviewer(request.user)
        result = duplicates.find_duplicates()
        return Response({"ran": result.ran, "proposed": result.proposed})
