"""Serializers of the intake and task endpoints. Personal data is masked here, by the viewer's role
(tasks/masking.py), so no endpoint can forget it."""

from __future__ import annotations

from rest_framework import serializers

from ..masking import mask_record, sees_unmasked
from ..models import IntakeBatch, Lead, Person, TaskOutcome, TracingTask


def _unmasked(serializer) -> bool:
    context = serializer.context
    if "unmasked" not in context:
        request = context.get("request")
        context["unmasked"] = sees_unmasked(getattr(request, "user", None))
    return context["unmasked"]


class PersonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name", "id_number", "phone", "case_status"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record("person", data, unmasked=_unmasked(self))


class TaskLeadSerializer(serializers.ModelSerializer):
    """A lead as shown inside its task: where it came from and why, without repeating the person."""

    division_code = serializers.CharField(source="division_id", read_only=True)
    current_division_code = serializers.CharField(source="current_division_id", read_only=True)
    batch = serializers.IntegerField(source="batch_id", read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "source",
            "external_id",
            "priority",
            "reason",
            "division_code",
            "current_division_code",
            "reported_at",
            "received_at",
            "batch",
        ]


def lead_outcome(lead: Lead) -> str:
    """A lead's outcome is the outcome of the task it went to, once that task has ended: the close's
    outcome code, or `cancelled`; empty while pending or open. Read through the link (a merge moves
    the links to the kept task, so its leads follow its outcome)."""
    link = lead.consumption
    if link is None:
        return ""
    task = link.task
    if task.status == "closed":
        return task.outcome
    return "cancelled" if task.status == "cancelled" else ""


LEAD_OUTCOMES = (*TaskOutcome.values, "cancelled")


def filter_lead_outcome(queryset, value: str):
    """`GET /api/v1/leads/?outcome=`: one of the task outcomes, or `cancelled`."""
    from rest_framework.exceptions import ValidationError

    if value not in LEAD_OUTCOMES:
        raise ValidationError({"outcome": [f"one of {', '.join(LEAD_OUTCOMES)}"]})
    if value == "cancelled":
        return queryset.filter(link__task__status="cancelled")
    return queryset.filter(link__task__status="closed", link__task__outcome=value)


class LeadSerializer(TaskLeadSerializer):
    """A lead in the leads list: with the outcome of its task."""

    outcome = serializers.SerializerMethodField()

    class Meta(TaskLeadSerializer.Meta):
        fields = [*TaskLeadSerializer.Meta.fields, "outcome"]

    def get_outcome(self, lead: Lead) -> str:
        return lead_outcome(lead)


class TaskSerializer(serializers.ModelSerializer):
    person = PersonSerializer(read_only=True)
    division_code = serializers.CharField(source="division_id", read_only=True)
    division_name = serializers.CharField(source="division.name", read_only=True)
    division_level = serializers.CharField(source="division.level", read_only=True)
    batch = serializers.IntegerField(source="batch_id", read_only=True)
    source_task = serializers.IntegerField(source="source_task_id", read_only=True)
    merged_into = serializers.IntegerField(source="merged_into_id", read_only=True)
    leads = TaskLeadSerializer(many=True, read_only=True)
    sources = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField()
    kind_clocks = serializers.SerializerMethodField()

    CLOCKS = ("dispatch_due", "dispatched_at", "radius_due", "radius_limited_at", "trace_due", "traced_at")
    # The clocks of the lighter work types (docs/worktypes.md), apart so that `clocks` keeps its keys.
    KIND_CLOCKS = ("verify_due", "verified_at", "register_due", "registered_at")

    class Meta:
        model = TracingTask
        fields = [
            "id",
            "status",
            "kind",
            "outcome",
            "closed_at",
            "merged_into",
            "priority",
            "division_code",
            "division_name",
            "division_level",
            "unresolved_reason",
            "address",
            "person",
            "batch",
            "source_task",
            "generation",
            "sources",
            "leads",
            "clocks",
            "kind_clocks",
            "created_at",
            "updated_at",
        ]

    def get_sources(self, task) -> list[str]:
        return sorted({lead.source for lead in task.leads.all()})

    def get_clocks(self, task) -> dict:
        field = serializers.DateTimeField()
        return {
            name: field.to_representation(getattr(task, name)) if getattr(task, name) else None
            for name in self.CLOCKS
        }

    def get_kind_clocks(self, task) -> dict:
        field = serializers.DateTimeField()
        return {
            name: field.to_representation(getattr(task, name)) if getattr(task, name) else None
            for name in self.KIND_CLOCKS
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return mask_record("task", data, unmasked=_unmasked(self), division_name=instance.division.name)


class BatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = IntakeBatch
        fields = [
            "id",
            "started_at",
            "finished_at",
            "status",
            "leads",
            "new_tasks",
            "merged",
            "unresolved",
            "dispatched",
            "error",
        ]
