"""Fixtures of the review tests (issue 6): a task with field records, submitted by the field team so
that the review and its findings are opened exactly as in production (the workflow's submission)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from reviews.models import Review
from tasks.models import (
    CloseContact,
    ContactAttempt,
    Role,
    TaskStatus,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from tasks.workflow import task_submit
from tests.conftest import HOME_VILLAGE
from tests.factories import TracingTaskFactory, UserFactory
from tests.workflow_fixtures import linked_lead

CST = dt_timezone(timedelta(hours=8))
H = timedelta(hours=1)
HAIKOU = ("20.029000", "110.166000")
SANYA = ("18.302000", "109.499000")


def record(model, task, actor, **values):
    return model.objects.create(task=task, idempotency_key=uuid.uuid4(), created_by=actor, **values)


def trajectory(task, actor, start, hours=2.0, *, place="家", at=None, transport="none", **extra):
    lat, lon = at if at else (None, None)
    return record(
        TrajectoryEntry,
        task,
        actor,
        started_at=start,
        ended_at=start + timedelta(hours=hours),
        place_name=place,
        latitude=lat,
        longitude=lon,
        transport=transport,
        **extra,
    )


def contact(task, actor, when, place="家", name="李四", **extra):
    return record(
        CloseContact,
        task,
        actor,
        name=name,
        relation=CloseContact.Relation.FAMILY,
        last_contact_at=when,
        last_contact_place=place,
        division_id=HOME_VILLAGE,
        **extra,
    )


def test_result(task, actor, sampled, result="negative"):
    return record(
        TestResult, task, actor, sampled_at=sampled, test_type=TestResult.Type.NUCLEIC_ACID, result=result
    )


test_result.__test__ = False


def traced_task(
    *, reported_at: datetime, division: str = HOME_VILLAGE, priority: int = 2, **kwargs
) -> TracingTask:
    """A task whose field work is done (status traced), with one lead reported at `reported_at`."""
    task = TracingTaskFactory(
        division_id=division,
        status=TaskStatus.TRACED,
        priority=priority,
        created_at=reported_at,
        dispatched_at=reported_at + H,
        radius_limited_at=None,
        traced_at=reported_at + 5 * H,
        **kwargs,
    )
    linked_lead(task, source="red_code", reported_at=reported_at, priority=priority, division_id=division)
    return task


def submit(task, actor, now=None) -> Review:
    task_submit(task=task, actor=actor, now=now)
    return Review.objects.get(task=task, state__in=["pending", "claimed"])


def clean_fieldwork(task, actor, reported_at):
    """A trajectory covering the whole investigated window (14 days before the lead until now) in
    10-hour stays at home, one contact and a negative test: no finding at all."""
    start = reported_at - timedelta(days=14)
    end = timezone.now()
    at, entries = start, []
    while at < end:
        entries.append(trajectory(task, actor, at, hours=10, place=f"家 {len(entries) + 1}"))
        at += 10 * H
    contact(task, actor, reported_at - 5 * H)
    test_result(task, actor, reported_at + H)
    record(
        ContactAttempt,
        task,
        actor,
        method="phone",
        reached=True,
        attempted_at=reported_at + 2 * H,
        note="本人接听，配合",
    )
    return entries


@pytest.fixture
def reported_at():
    return timezone.now() - timedelta(days=1)


@pytest.fixture
def review(hainan, field_staff, reported_at):
    """A submitted task with an impossible journey (Haikou → Sanya in 30 minutes by car) and an
    incomplete contact: an open review with findings."""
    task = traced_task(reported_at=reported_at)
    clean_fieldwork(task, field_staff, reported_at)
    day = reported_at - timedelta(days=2)
    trajectory(task, field_staff, day, hours=1, place="海口火车站", at=HAIKOU)
    trajectory(
        task, field_staff, day + 1.5 * H, hours=1, place="三亚火车站", at=SANYA, transport="private_car"
    )
    contact(task, field_staff, reported_at - 3 * H, place="", name="王五")
    return submit(task, field_staff)


@pytest.fixture
def other_expert(hainan):
    return UserFactory(username="emma", full_name="专家庚", role=Role.CDC_EXPERT, division_id="460105")


@pytest.fixture
def outsider_expert(hainan):
    """A CDC expert of another county (460106)."""
    return UserFactory(username="oscar", full_name="外区专家", role=Role.CDC_EXPERT, division_id="460106")


@pytest.fixture
def lead_expert(hainan):
    user = UserFactory(username="leo", full_name="首席专家", role=Role.CDC_EXPERT, division_id="460105")
    user.user_permissions.add(
        Permission.objects.get(codename="assign_review", content_type__app_label="reviews")
    )
    return user


APPROVAL = {
    "measure": "home_quarantine",
    "measure_days": 14,
    "test_schedule_days": [1, 4, 7],
    "notify_person": True,
    "note": "",
    "risk_areas": [],
}
