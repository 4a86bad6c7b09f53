"""Intake endpoints: `POST /api/v1/leads/` (up to 10,000 leads per request), the leads and the batches.

The POST validates every row in Python (tasks/validation.py) and writes the valid ones with COPY and
one INSERT … ON CONFLICT DO NOTHING (tasks/leads_io.py); rejected rows are stored with their reasons.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from ..leads_io import MAX_API_ROWS, ingest_rows
from ..models import IntakeBatch, Lead, Source
from ..security import lead_scope
from ..selectors import visible_to
from .permissions import capability
from .serializers import BatchSerializer, LeadSerializer, filter_lead_outcome

IngestResponse = inline_serializer(
    "LeadIngestResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)


class LeadViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Leads of the caller's territory (read: lead.view), and the intake channel (write: lead.create)."""

    serializer_class = LeadSerializer
    text_checked_per_row = True  # NUL / lone surrogates reject the row, not the request (input_guard)
    permission_classes = [IsAuthenticated, capability("lead.view", "lead.create")]
    # Machines push leads with an integration token (tasks/api/auth.py), confined to their account's
    # territory like any scoped account.
    integration_tokens = True

    def get_queryset(self):
        queryset = visible_to(
            self.request.user, Lead.objects.select_related("link__task").defer("link__task__address")
        ).order_by("-id")
        params = self.request.query_params
        if outcome := params.get("outcome"):
            queryset = filter_lead_outcome(queryset, outcome)
        if batch := params.get("batch"):
            if not batch.isdigit():
                raise ValidationError({"batch": ["must be a batch id"]})
            queryset = queryset.filter(link__batch_id=int(batch))
        if source := params.get("source"):
            if source not in Source.values:
                raise ValidationError({"source": [f"one of {', '.join(Source.values)}"]})
            queryset = queryset.filter(source=source)
        if params.get("pending") in ("1", "true"):
            queryset = queryset.filter(pending__isnull=False)
        return queryset

    @extend_schema(
        request=inline_serializer("LeadIn", {"source": serializers.ChoiceField(Source.choices)}, many=True),
        responses={201: IngestResponse, 200: IngestResponse},  # 200: nothing new accepted
        examples=[
            OpenApiExample(
                "one red-code lead",
                value=[
                    {
                        "source": "red_code",
                        "external_id": "HC-1",
                        "id_number": "11010519491231002X",
                        "name": "张三",
                        "division_code": "460105001001",
                        "reported_at": "2024-05-01T08:30:00+08:00",
                    }
                ],
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        rows = request.data
        if not isinstance(rows, list):
            raise ValidationError({"non_field_errors": ["send a JSON list of leads"]})
        if len(rows) > MAX_API_ROWS:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"at most {MAX_API_ROWS:,} leads per request, got {len(rows):,}: split the list"
                    ]
                }
            )
        result = ingest_rows(
            rows, channel="api", created_by_id=request.user.pk, scope=lead_scope(request.user)
        )
        return Response(
            result.as_response(), status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK
        )


class BatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Intake batches, newest first, with their counts (global counts: no personal data)."""

    serializer_class = BatchSerializer
    permission_classes = [IsAuthenticated, capability("lead.view")]
    queryset = IntakeBatch.objects.order_by("-started_at", "-id")
