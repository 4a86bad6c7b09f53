"""`POST /api/v1/test-results/` (the lab feed, up to 10,000 results a request) and
`GET /api/v1/test-results/` (`?matched=false`: the unmatched queue), docs/labs.md.

Answered like the lead API: `accepted`, `duplicates` (already received: same lab and sample id) and
`rejected` (index, lab, sample_id and the reasons per field); 201 when something new was accepted, else
200. Laboratories push with an integration token of a duty-desk account; its territory is where the
results it sends wait until they are matched.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from tasks.access_log import record_access
from tasks.api.permissions import capability
from tasks.masking import mask_id_number, mask_name, mask_phone, sees_unmasked
from tasks.models import AccessAction
from tasks.selectors import visible_to

from .models import LabResult, LabResultValue, MatchState
from .services.labs import MAX_API_ROWS, ingest_rows

IngestResponse = inline_serializer(
    "LabResultIngestResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)


class LabResultSerializer(serializers.ModelSerializer):
    division_code = serializers.CharField(source="division_id", read_only=True)
    person = serializers.IntegerField(source="person_id", read_only=True)
    task = serializers.IntegerField(source="task_id", read_only=True)
    period = serializers.IntegerField(source="period_id", read_only=True)
    matched = serializers.SerializerMethodField()

    class Meta:
        model = LabResult
        fields = [
            "id",
            "lab",
            "sample_id",
            "sampled_at",
            "test_type",
            "result",
            "name",
            "id_number",
            "phone",
            "match_state",
            "matched",
            "person",
            "task",
            "period",
            "division_code",
            "received_at",
            "matched_at",
            "rejection_reason",
        ]

    def get_matched(self, result: LabResult) -> bool:
        return result.match_state == MatchState.MATCHED

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("unmasked"):
            data["name"] = mask_name(data["name"] or "")
            data["id_number"] = mask_id_number(data["id_number"] or "")
            data["phone"] = mask_phone(data["phone"] or "")
        return data


class LabResultViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Lab results of the caller's territory (read: labresult.view), and the lab feed (write:
    labresult.create)."""

    serializer_class = LabResultSerializer
    text_checked_per_row = True  # NUL / lone surrogates reject the row, not the request (input_guard)
    permission_classes = [IsAuthenticated, capability("labresult.view", "labresult.create")]
    integration_tokens = True

    def get_queryset(self):
        queryset = visible_to(self.request.user, LabResult.objects.all()).order_by("-received_at", "-id")
        params = self.request.query_params
        if (matched := params.get("matched")) is not None:
            if matched not in ("true", "false"):
                raise ValidationError({"matched": ["true or false"]})
            wanted = MatchState.MATCHED if matched == "true" else MatchState.UNMATCHED
            queryset = queryset.filter(match_state=wanted)
        if (state := params.get("match_state")) is not None:
            if state not in MatchState.values:
                raise ValidationError({"match_state": [f"one of {', '.join(MatchState.values)}"]})
            queryset = queryset.filter(match_state=state)
        if (result := params.get("result")) is not None:
            if result not in LabResultValue.values:
                raise ValidationError({"result": [f"one of {', '.join(LabResultValue.values)}"]})
            queryset = queryset.filter(result=result)
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "unmasked": sees_unmasked(self.request.user)}

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        page = getattr(self, "_listed", None)
        if page:
            record_access(request, action=AccessAction.VIEW, objects=page)
        return response

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._listed = list(page) if page is not None else list(queryset)
        return page

    @extend_schema(
        request=inline_serializer(
            "LabResultIn",
            {
                "lab": serializers.CharField(),
                "sample_id": serializers.CharField(),
                "sampled_at": serializers.DateTimeField(),
                "test_type": serializers.CharField(),
                "result": serializers.ChoiceField(LabResultValue.choices),
                "id_number": serializers.CharField(required=False),
                "phone": serializers.CharField(required=False),
                "name": serializers.CharField(required=False),
            },
            many=True,
        ),
        responses={201: IngestResponse, 200: IngestResponse},
        examples=[
            OpenApiExample(
                "one positive result",
                value=[
                    {
                        "lab": "海口市疾控中心实验室",
                        "sample_id": "S-20240501-0001",
                        "sampled_at": "2024-05-01T08:30:00+08:00",
                        "test_type": "nucleic_acid",
                        "result": "positive",
                        "id_number": "11010519491231002X",
                    }
                ],
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        rows = request.data
        if not isinstance(rows, list):
            raise ValidationError({"non_field_errors": ["send a JSON list of results"]})
        if len(rows) > MAX_API_ROWS:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"at most {MAX_API_ROWS:,} results per request, got {len(rows):,}: split the list"
                    ]
                }
            )
        result = ingest_rows(rows, submitted_by_id=request.user.pk, division_id=request.user.division_id)
        return Response(
            result.as_response(), status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK
        )
