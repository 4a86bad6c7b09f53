"""The intake batch creates its tasks already dispatched (tasks.dispatch.plan_intake_dispatch): the
result must be exactly what the separate dispatch step (dispatch_new_tasks) gives the same tasks —
team, sub-unit, least-load assignee, clocks, follow the person, the queue, and the history rows."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction

from tasks import dispatch
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import TaskStatus, TaskTransition, TracingTask
from tests.conftest import HOME_COUNTY, HOME_TOWNSHIP, HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.intake_helpers import CHANGLIU_TOWNSHIP, OTHER_COUNTY_VILLAGE, lead
from tests.workflow_fixtures import T0, make_task

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(minutes=3)

TASK_FIELDS = (
    "status",
    "division_id",
    "unresolved_reason",
    "team_id",
    "subunit_id",
    "assignee_id",
    "dispatch_due",
    "dispatched_at",
    "radius_due",
    "trace_due",
    "next_alert_at",
    "clock_alerts",
    "version",
    "priority",
)


def send(*rows) -> None:
    result = ingest_rows(list(rows), channel="api")
    assert result.rejected == [], result.rejected[0].errors


def outcome() -> dict:
    """Every task of the latest batch and its history, keyed by person (ids of tasks and persons differ
    between two runs; everything else must not)."""
    tasks = (
        TracingTask.objects.filter(batch__isnull=False).exclude(batch__started_at=T0).select_related("person")
    )
    result = {}
    for task in tasks:
        history = [
            (t.from_status, t.to_status, t.actor_id, t.at, t.reason, t.details)
            for t in TaskTransition.objects.filter(task=task).order_by("id")
        ]
        result[task.person.person_key] = ({f: getattr(task, f) for f in TASK_FIELDS}, history)
    return result


def mixed_leads() -> list[dict]:
    """Leads that exercise every branch of dispatch, with different priorities in one sub-unit."""
    return [
        *(lead(source=source) for source in ("big_data", "red_code", "hotline", "returnee", "yellow_code")),
        # Follow the person: a more recent lead gives the current village, elsewhere in the township.
        lead(phone="13900000001", name="随人走", reported_at="2024-05-01T08:00:00+08:00"),
        lead(
            phone="13900000001",
            name="随人走",
            source="big_data",
            current_division_code=OTHER_VILLAGE_SAME_TOWNSHIP,
            reported_at="2024-05-01T09:00:00+08:00",
        ),
        # A current location that contains the household village: the household stays.
        lead(current_division_code=HOME_COUNTY),
        # A coarse current location elsewhere: the task waits in that jurisdiction's queue.
        lead(current_division_code=CHANGLIU_TOWNSHIP),
        # Another county, whose village has no staff: dispatched to the units without an assignee.
        lead(division_code=OTHER_COUNTY_VILLAGE),
        # No village: the county duty desk's queue.
        lead(division_code=HOME_COUNTY, address=""),
    ]


def run_both_ways(now=NOW) -> tuple[tuple[int, dict], tuple[int, dict]]:
    """The batch with dispatch as a separate step after it (rolled back), then as the intake does it;
    each time the batch's dispatched count and the outcome."""
    separate_step = dispatch.dispatch_new_tasks
    with transaction.atomic():
        # Without the plan, the step after the batch does everything, following the person included.
        with (
            mock.patch("tasks.dispatch.plan_intake_dispatch"),
            mock.patch(
                "tasks.dispatch.dispatch_new_tasks",
                side_effect=lambda **kw: separate_step(**{**kw, "follow": True}),
            ),
        ):
            batch = intake_run(now=now)
        separate = (batch.dispatched, outcome())
        transaction.set_rollback(True)
    batch = intake_run(now=now)
    return separate, (batch.dispatched, outcome())


def test_tasks_come_out_of_the_batch_exactly_as_the_separate_dispatch_leaves_them(crew):
    # Open load decides the assignee: dan already has two tasks in the field.
    for _ in range(2):
        make_task(status=TaskStatus.RECEIVED, assignee=crew["dan"])
    send(*mixed_leads())
    separate, fused = run_both_ways()
    assert len(fused[1]) == 10 and fused[0] == 8
    assert fused == separate


def test_in_leader_mode_both_ways_leave_the_assignee_to_the_subunit_leader(crew, settings):
    settings.DISPATCH_ASSIGN_MODE = "leader"
    send(*mixed_leads())
    separate, fused = run_both_ways()
    assert fused == separate
    assert all(fields["assignee_id"] is None for fields, _history in fused[1].values())


def test_the_batch_dispatches_at_once_and_counts_it(crew):
    send(lead(), lead(), lead(division_code=HOME_COUNTY))
    batch = intake_run(now=NOW)
    assert (batch.new_tasks, batch.dispatched, batch.unresolved) == (3, 2, 1)
    dispatched = TracingTask.objects.filter(batch=batch, status=TaskStatus.DISPATCHED)
    assert {t.subunit_id for t in dispatched} == {crew["subunit"].pk}
    assert {t.team_id for t in dispatched} == {crew["team"].pk}
    # Least load: one task each for the two members.
    assert sorted(t.assignee_id for t in dispatched) == sorted([crew["bob"].pk, crew["dan"].pk])
    for task in dispatched:
        assert task.dispatched_at == NOW and task.dispatch_due == NOW + timedelta(minutes=30)
        assert task.radius_due == NOW + timedelta(hours=3) and task.trace_due == NOW + timedelta(hours=10)
        assert task.next_alert_at == NOW + timedelta(minutes=144)
        step = TaskTransition.objects.get(task=task)
        assert (step.from_status, step.to_status, step.actor_id) == ("new", "dispatched", None)
        assert step.details == {
            "division": HOME_VILLAGE,
            "team": crew["team"].pk,
            "subunit": crew["subunit"].pk,
            "assignee": task.assignee_id,
        }
    queued = TracingTask.objects.get(batch=batch, status=TaskStatus.NEW)
    assert queued.division_id == HOME_COUNTY and queued.unresolved_reason
    assert queued.next_alert_at == NOW + timedelta(minutes=24)
    assert not TaskTransition.objects.filter(task=queued).exists()


def test_a_followed_person_is_dispatched_where_they_are_now(crew):
    send(
        lead(phone="13900000002", name="随人走", reported_at="2024-05-01T08:00:00+08:00"),
        lead(
            phone="13900000002",
            name="随人走",
            source="big_data",
            current_division_code=OTHER_VILLAGE_SAME_TOWNSHIP,
            reported_at="2024-05-01T09:00:00+08:00",
        ),
    )
    batch = intake_run(now=NOW)
    task = TracingTask.objects.get(batch=batch)
    assert task.division_id == OTHER_VILLAGE_SAME_TOWNSHIP and task.status == TaskStatus.DISPATCHED
    assert task.team_id == crew["team"].pk and task.division_id[:9] == HOME_TOWNSHIP
    steps = list(
        TaskTransition.objects.filter(task=task)
        .order_by("id")
        .values_list("from_status", "to_status", "details")
    )
    assert [s[:2] for s in steps] == [("new", "new"), ("new", "dispatched")]
    assert steps[0][2]["division"] == {"from": HOME_VILLAGE, "to": OTHER_VILLAGE_SAME_TOWNSHIP}
