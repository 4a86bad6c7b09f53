"""The review API (issue 6). Every endpoint needs the `review.decide` capability (a CDC expert: 403 for
other roles) and reaches the review through `selectors.get_review_or_404` (a review of a task the
expert does not see: 404). Writes call one service each; services refuse with 403 (role, territory),
400 (input) or 409 (state: claimed by another expert, already decided).

GET  /api/v1/reviews/                      the queue (open reviews of submitted tasks); ?mine=true
GET  /api/v1/reviews/{id}/                 one review: task, findings, comments, decision, disposal
POST /api/v1/reviews/{id}/claim/
POST /api/v1/reviews/{id}/assign/          {"expert": user id}                        (lead expert)
GET  /api/v1/reviews/{id}/comments/
POST /api/v1/reviews/{id}/comments/        {"body": ..., "target_kind": "trajectory"|"contact"|"test"|"attempt", "target_id": id}
POST /api/v1/reviews/{id}/return/          {"reasons": ...}
POST /api/v1/reviews/{id}/approve/         {"reasons": ..., "disposal": {"measure": ..., "measure_days": 14,
                                            "test_schedule_days": [1, 4, 7], "notify_person": true, "note": "",
                                            "risk_areas": [{"entry_id": id, "level": "high"|"medium"|"low"}]}}
GET  /api/v1/tasks/{task_id}/review-comments/   the comments on a task, for anyone who sees the task
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from tasks.access_log import record_access
from tasks.api.permissions import capability, request_user
from tasks.api.serializers import PersonSerializer
from tasks.models import AccessAction, User
from tasks.roles import can
from tasks.workflow import IllegalTransition

from . import services
from .fieldwork_adapter import kind_of
from .models import (
    DisposalProposal,
    Finding,
    PersonMeasure,
    Review,
    ReviewComment,
    RiskAreaDesignation,
    RiskLevel,
)
from .selectors import comments_for_task, get_review_or_404, review_detail, review_queue


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "review_conflict"


def call(service, **kwargs):
    try:
        return service(**kwargs)
    except services.ReviewConflict as exc:
        raise Conflict({"detail": exc.messages[0], "code": exc.code}) from None
    except IllegalTransition as exc:
        raise Conflict({"detail": exc.messages[0], "code": "illegal_transition"}) from None
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc) or None) from None
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        ) from None


# ---- output -----------------------------------------------------------------------------------------


class ExpertSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "full_name"]


def _target(obj) -> dict | None:
    kind = kind_of(obj.target_type_id)
    return {"kind": kind, "id": obj.target_id} if kind else None


class FindingSerializer(serializers.ModelSerializer):
    title = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)
    target = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "rule", "severity", "title", "message", "target", "params"]

    def get_target(self, obj) -> dict | None:
        return _target(obj)


class CommentSerializer(serializers.ModelSerializer):
    author = ExpertSerializer(read_only=True)
    target = serializers.SerializerMethodField()
    review_round = serializers.IntegerField(source="review.round", read_only=True)

    class Meta:
        model = ReviewComment
        fields = ["id", "task", "review", "review_round", "author", "body", "target", "created_at"]

    def get_target(self, obj) -> dict | None:
        return _target(obj)


class RiskAreaSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)

    class Meta:
        model = RiskAreaDesignation
        fields = [
            "id",
            "entry_id",
            "level",
            "place",
            "address",
            "division_code",
            "latitude",
            "longitude",
            "start",
            "end",
        ]


class DisposalSerializer(serializers.ModelSerializer):
    risk_areas = RiskAreaSerializer(many=True, read_only=True)
    proposed_by = ExpertSerializer(read_only=True)

    class Meta:
        model = DisposalProposal
        fields = [
            "id",
            "review",
            "task",
            "person",
            "measure",
            "measure_days",
            "test_schedule_days",
            "notify_person",
            "note",
            "risk_areas",
            "proposed_by",
            "created_at",
            "approved_at",
        ]


class TaskBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    priority = serializers.IntegerField()
    division_code = serializers.CharField(source="division_id")
    division_name = serializers.CharField(source="division.name")
    person = PersonSerializer()


class ReviewQueueSerializer(serializers.ModelSerializer):
    task = TaskBriefSerializer(read_only=True)
    expert = ExpertSerializer(read_only=True)
    waiting_seconds = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "task",
            "round",
            "state",
            "expert",
            "claimed_at",
            "submitted_at",
            "waiting_seconds",
            "findings",
        ]

    def get_waiting_seconds(self, obj) -> int:
        return int(obj.waiting.total_seconds())

    def get_findings(self, obj) -> dict:
        return {"error": obj.errors, "warning": obj.warnings, "info": obj.infos}


class ReviewSerializer(serializers.ModelSerializer):
    task = TaskBriefSerializer(read_only=True)
    expert = ExpertSerializer(read_only=True)
    assigned_by = ExpertSerializer(read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)
    disposal = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "task",
            "round",
            "state",
            "expert",
            "assigned_by",
            "submitted_at",
            "claimed_at",
            "decision",
            "reasons",
            "decided_at",
            "rework_due",
            "findings",
            "comments",
            "disposal",
        ]

    def get_disposal(self, obj) -> dict | None:
        proposal = (
            DisposalProposal.objects.filter(review=obj)
            .prefetch_related("risk_areas")
            .select_related("proposed_by")
            .first()
        )
        return DisposalSerializer(proposal).data if proposal else None


# ---- input ------------------------------------------------------------------------------------------


class AssignInput(serializers.Serializer):
    expert = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=4000)
    target_kind = serializers.ChoiceField(
        choices=["trajectory", "contact", "test", "attempt"], required=False, allow_null=True
    )
    target_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ReturnInput(serializers.Serializer):
    reasons = serializers.CharField(max_length=4000)


class RiskAreaInput(serializers.Serializer):
    entry_id = serializers.IntegerField(min_value=1)
    level = serializers.ChoiceField(choices=RiskLevel.choices)


class DisposalInput(serializers.Serializer):
    measure = serializers.ChoiceField(choices=PersonMeasure.choices)
    measure_days = serializers.IntegerField(min_value=0, max_value=60, default=0)
    test_schedule_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=60), default=list
    )
    notify_person = serializers.BooleanField(default=True)
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    risk_areas = RiskAreaInput(many=True, required=False, default=list)


class ApproveInput(serializers.Serializer):
    reasons = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    disposal = DisposalInput()


# ---- views ------------------------------------------------------------------------------------------


class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The review queue of the caller (CDC experts): open reviews of the submitted tasks in their
    territory or shared with them, highest priority then longest waiting first. Other roles get 403
    on the queue; a single review they cannot see (every review, for them) is 404."""

    permission_classes = [IsAuthenticated]
    serializer_class = ReviewQueueSerializer
    filterset_class = None
    filter_backends: list = []

    def list(self, request, *args, **kwargs):
        if not can(request.user, "review.decide"):
            raise exceptions.PermissionDenied(_("Only a CDC expert reviews investigations."))
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        if rows:
            record_access(
                self.request, action=AccessAction.VIEW, objects=[row.task for row in rows], fields=["name"]
            )
        return page

    def get_queryset(self):
        queryset = review_queue(self.request.user)
        if self.request.query_params.get("mine") in ("1", "true"):
            queryset = queryset.filter(expert=request_user(self.request))
        return queryset

    def get_object(self) -> Review:
        return get_review_or_404(self.request.user, self.kwargs["pk"])

    def _detail(self, review: Review, code=status.HTTP_200_OK) -> Response:
        return Response(
            ReviewSerializer(review_detail(review), context={"request": self.request}).data, status=code
        )

    @extend_schema(responses=ReviewSerializer)
    def retrieve(self, request, *args, **kwargs):
        review = self.get_object()
        record_access(request, action=AccessAction.VIEW, objects=[review.task])
        return self._detail(review)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        review = call(services.review_claim, review=self.get_object(), actor=request.user)
        return self._detail(review)

    @extend_schema(request=AssignInput, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        review = self.get_object()
        data = AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = call(
            services.review_assign, review=review, actor=request.user, expert=data.validated_data["expert"]
        )
        return self._detail(review)

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=CommentInput, responses=CommentSerializer)
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        review = self.get_object()
        if request.method == "GET":
            rows = (
                ReviewComment.objects.filter(review=review)
                .select_related("author", "review")
                .order_by("created_at", "id")
            )
            return Response(CommentSerializer(rows, many=True).data)
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        comment = call(
            services.review_comment,
            review=review,
            actor=request.user,
            body=data.validated_data["body"],
            target_kind=data.validated_data.get("target_kind"),
            target_id=data.validated_data.get("target_id"),
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReturnInput, responses=ReviewSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        review = self.get_object()
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = call(
            services.review_return, review=review, actor=request.user, reasons=data.validated_data["reasons"]
        )
        return self._detail(review)

    @extend_schema(request=ApproveInput, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        review = self.get_object()
        data = ApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = call(
            services.review_approve,
            review=review,
            actor=request.user,
            disposal=data.validated_data["disposal"],
            reasons=data.validated_data["reasons"],
        )
        return self._detail(review)


class TaskReviewCommentsView(ListAPIView):
    """The review comments on one task, for anyone who sees the task (the field team reads what the
    expert wrote when the task was returned)."""

    permission_classes = [IsAuthenticated, capability("task.view")]
    serializer_class = CommentSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return comments_for_task(self.request.user, self.kwargs["task_id"])
