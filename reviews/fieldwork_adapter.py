"""The one place that knows the field-work models (tasks/models/fieldwork.py, issue 5) on behalf of the
reviews app: it turns a task's records into the plain records of reviews/findings.py, and names the
entries a comment, a finding or a risk-area designation can point at."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models

from tasks.models import CloseContact, ContactAttempt, TestResult, TrajectoryEntry

from .findings import Contact, Entry, Test

FieldModel = type[TrajectoryEntry] | type[CloseContact] | type[TestResult] | type[ContactAttempt]

# target kind (as used by findings and the API) → model
TARGET_MODELS: dict[str, FieldModel] = {
    "trajectory": TrajectoryEntry,
    "contact": CloseContact,
    "test": TestResult,
    "attempt": ContactAttempt,
}
KIND_BY_MODEL: dict[type[models.Model], str] = {model: kind for kind, model in TARGET_MODELS.items()}


def content_type_for(kind: str) -> ContentType:
    return ContentType.objects.get_for_model(TARGET_MODELS[kind])


def kind_of(content_type_id: int | None) -> str | None:
    if content_type_id is None:
        return None
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    return KIND_BY_MODEL.get(model) if model is not None else None


def target_entry(task, kind: str, entry_id: int):
    """The entry `kind`/`entry_id` of `task`, or None when it is not one of the task's live entries."""
    model = TARGET_MODELS.get(kind)
    if model is None:
        return None
    if model is TrajectoryEntry:
        return TrajectoryEntry.objects.filter(task=task, pk=entry_id, deleted_at__isnull=True).first()
    return model.objects.filter(task=task, pk=entry_id).first()


def live_entries(task):
    return TrajectoryEntry.objects.filter(task=task, deleted_at__isnull=True).order_by(
        "started_at", "ended_at", "id"
    )


def entries_of(task) -> list[Entry]:
    return [
        Entry(
            id=row.pk,
            start=row.started_at,
            end=row.ended_at,
            place=row.place_name,
            lat=float(row.latitude) if row.latitude is not None else None,
            lon=float(row.longitude) if row.longitude is not None else None,
            # "none / stayed" declares no means of transport.
            mode="" if row.transport == TrajectoryEntry.Transport.NONE else row.transport,
        )
        for row in live_entries(task)
    ]


def contacts_of(task) -> list[Contact]:
    return [
        Contact(
            id=row.pk,
            name=row.name,
            last_contact_at=row.last_contact_at,
            last_contact_place=row.last_contact_place,
        )
        for row in CloseContact.objects.filter(task=task).order_by("created_at", "id")
    ]


def tests_of(task) -> list[Test]:
    return [
        Test(id=row.pk, sampled_at=row.sampled_at, result=row.result, test_type=row.test_type)
        for row in TestResult.objects.filter(task=task).order_by("sampled_at", "id")
    ]


def transport_labels() -> dict[str, str]:
    """The means of transport and their labels in the active language."""
    return {value: str(label) for value, label in TrajectoryEntry.Transport.choices}
