"""The staff API of notices (/api/v1/notices/…): list, detail, approve, reject, evaluation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.masking import mask_name, sees_unmasked

from .. import figures, permissions, selectors
from ..errors import NoticeConflict
from ..models import Notice
from ..services import review
from .common import actor_of, level_of, log_reads, period_of


class NoticeSerializer(serializers.ModelSerializer):
    person_name = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = [
            "id",
            "state",
            "category",
            "source",
            "urgent",
            "title",
            "text",
            "division",
            "task",
            "person_name",
            "version",
            "submitted_at",
            "county_reviewer",
            "county_reviewed_at",
            "city_reviewer",
            "city_reviewed_at",
            "rejection_reason",
            "rejected_at",
            "approved_at",
            "push_after",
            "push_due",
            "pushed_at",
            "acknowledged_at",
            "ack_channel",
            "reminder_sent_at",
            "followed_up_at",
        ]

    def get_person_name(self, obj: Notice) -> str:
        request = self.context.get("request")
        return obj.person.name if request and sees_unmasked(request.user) else mask_name(obj.person.name)


class NoticeListApi(ListAPIView):
    """Notices of the caller's territory; ?state=county_review etc."""

    serializer_class = NoticeSerializer

    def get_queryset(self) -> QuerySet[Notice]:
        queryset = (
            selectors.notices_visible_to(self.request.user)
            .select_related("person", "task")
            .order_by("-created_at", "-id")
        )
        state = self.request.query_params.get("state")
        return queryset.filter(state=state) if state else queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        log_reads(request, rows)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class NoticeDetailApi(RetrieveAPIView):
    serializer_class = NoticeSerializer

    def get_object(self) -> Notice:
        notice = selectors.get_notice_or_404(self.request.user, self.kwargs["pk"])
        log_reads(self.request, [notice])
        return notice


class NoticeApproveApi(APIView):
    """County desk: pass to the city desk. City desk: approve for the push."""

    @extend_schema(request=None, responses={200: NoticeSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        notice = selectors.get_notice_or_404(request.user, pk)
        try:
            notice = review.notice_approve(notice=notice, actor=actor_of(request))
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        except NoticeConflict as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=409)
        return Response(NoticeSerializer(notice, context={"request": request}).data)


class NoticeRejectionInput(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class NoticeRejectApi(APIView):
    """{"reason": "..."}: back to the submitter. The body is validated by NoticeRejectionInput (a body
    that is not an object, or a reason that is not text, is a 400 naming the field, not a 500)."""

    @extend_schema(
        request=inline_serializer("NoticeRejection", {"reason": serializers.CharField()}),
        responses={200: NoticeSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int) -> Response:
        notice = selectors.get_notice_or_404(request.user, pk)
        data = NoticeRejectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            notice = review.notice_reject(
                notice=notice, actor=actor_of(request), reason=data.validated_data["reason"]
            )
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        except NoticeConflict as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=409)
        return Response(NoticeSerializer(notice, context={"request": request}).data)


class NoticeEvaluationApi(APIView):
    """?start=YYYY-MM-DD&end=YYYY-MM-DD&level=county|city|township&division=<code prefix>"""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
            OpenApiParameter("level", str, enum=["county", "city", "township"]),
            OpenApiParameter("division", str),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        if not (request.user.is_superuser or getattr(request.user, "role", None) in permissions.STAFF_ROLES):
            raise NotFound
        start, end = period_of(request)
        rows = figures.evaluation(
            user=request.user,
            start=start,
            end=end,
            division=request.query_params.get("division") or None,
            level=level_of(request),
        )
        return Response({"start": start, "end": end, "results": rows})
