"""Helpers for the field-work tests (issue 5): a task dispatched to bob's village, valid form data."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from tasks import workflow
from tasks.models import TracingTask, Unit, UnitMembership
from tests.conftest import HOME_VILLAGE
from tests.factories import IntakeBatchFactory, PersonFactory, TracingTaskFactory


def dispatched_task(user=None, *, division: str = HOME_VILLAGE, **kwargs) -> TracingTask:
    """A task dispatched (by the real dispatch) to `division`; with `user`, assigned to them."""
    if user is not None:
        UnitMembership.objects.get_or_create(
            unit=Unit.objects.get(kind="subunit", division_id=division), user=user
        )
    batch = IntakeBatchFactory(started_at=timezone.now() - timedelta(minutes=5))
    task = TracingTaskFactory(
        division_id=division, batch=batch, person=PersonFactory(id_number="460105199001011236"), **kwargs
    )
    return workflow.task_dispatch(task=task)


def key() -> str:
    return str(uuid.uuid4())


def ago(minutes: int) -> str:
    return (timezone.now() - timedelta(minutes=minutes)).isoformat()


def attempt(**extra) -> dict:
    return {
        "idempotency_key": key(),
        "method": "phone",
        "reached": True,
        "attempted_at": ago(50),
        "note": "接通",
        **extra,
    }


def radius(**extra) -> dict:
    return {
        "idempotency_key": key(),
        "division_code": HOME_VILLAGE,
        "address": "秀华路1号",
        "latitude": "20.0123",
        "longitude": "110.2345",
        "measure": "home_isolation",
        "controlled_at": ago(40),
        **extra,
    }


def entry(start: int = 300, end: int = 240, **extra) -> dict:
    return {
        "idempotency_key": key(),
        "started_at": ago(start),
        "ended_at": ago(end),
        "place_name": "友谊超市",
        "address": "秀英大道8号",
        "division_code": HOME_VILLAGE,
        "activity": "购物",
        "transport": "bus",
        "vehicle_number": "37路",
        "companions": "无",
        **extra,
    }


def contact(**extra) -> dict:
    return {
        "idempotency_key": key(),
        "name": "李四",
        "phone": "13907551234",
        "relation": "colleague",
        "last_contact_at": ago(600),
        "last_contact_place": "办公室",
        "division_code": HOME_VILLAGE,
        **extra,
    }


def test_result(**extra) -> dict:
    return {
        "idempotency_key": key(),
        "sampled_at": ago(30),
        "test_type": "nucleic_acid",
        "result": "pending",
        "lab": "市疾控",
        **extra,
    }


test_result.__test__ = False
