"""Automatic dispatch in sets (issue 4 §2): territory, follow the person, least load, the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from tasks.clocks import clock_windows, compute_next_alert_at, next_alert_sql
from tasks.dispatch import dispatch_new_tasks
from tasks.models import TaskStatus, TaskTransition, TracingTask
from tests.conftest import HOME_COUNTY, HOME_TOWNSHIP, HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.workflow_fixtures import T0, linked_lead, make_task, unit

D = T0 + timedelta(minutes=5)  # the dispatch moment


def test_it_dispatches_a_village_task_to_the_team_and_subunit_of_its_village(crew):
    task = make_task()
    assert dispatch_new_tasks(batch_id=task.batch_id, now=D) == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED
    assert task.team == crew["team"] and task.subunit == crew["subunit"]
    assert task.assignee in (crew["bob"], crew["dan"])
    assert task.dispatch_due == T0 + timedelta(minutes=30)
    assert task.dispatched_at == D
    assert task.radius_due == D + timedelta(hours=3)
    assert task.trace_due == D + timedelta(hours=10)
    # The dispatch clock has stopped; the next moment is the radius warning at 80 % of 3 h.
    assert task.next_alert_at == D + timedelta(minutes=144)
    transition = TaskTransition.objects.get(task=task)
    assert (transition.from_status, transition.to_status, transition.actor) == ("new", "dispatched", None)
    assert transition.details["subunit"] == crew["subunit"].pk


def test_it_gives_each_task_to_the_member_with_the_least_open_load(crew):
    for _ in range(2):
        make_task(status=TaskStatus.RECEIVED, assignee=crew["dan"])
    batch_tasks = [make_task() for _ in range(4)]
    batch_ids = {t.batch_id for t in batch_tasks}
    assert dispatch_new_tasks(now=D) == 4
    got = TracingTask.objects.filter(batch_id__in=batch_ids)
    by_member = {u: got.filter(assignee=crew[u]).count() for u in ("bob", "dan")}
    # bob 0 → 1, 2, 3; then bob and dan both at 3: the tie goes to the lower id (bob was first): bob 3, dan 1.
    assert by_member == {"bob": 3, "dan": 1}
    loads = {
        u: TracingTask.objects.filter(assignee=crew[u], status__in=["dispatched", "received"]).count()
        for u in ("bob", "dan")
    }
    assert loads == {"bob": 3, "dan": 3}


def test_in_leader_mode_the_subunit_leader_assigns(crew, settings):
    settings.DISPATCH_ASSIGN_MODE = "leader"
    task = make_task()
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED and task.subunit == crew["subunit"] and task.assignee is None


def test_a_subunit_without_members_leaves_the_task_unassigned(db, hainan):
    task = make_task(OTHER_VILLAGE_SAME_TOWNSHIP)
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED and task.assignee is None
    assert task.subunit == unit("subunit", OTHER_VILLAGE_SAME_TOWNSHIP)


@pytest.mark.parametrize("division", [HOME_TOWNSHIP, HOME_COUNTY])
def test_a_task_without_village_waits_in_the_duty_desk_queue_with_its_clock_running(db, hainan, division):
    task = make_task(division)
    assert dispatch_new_tasks(batch_id=task.batch_id, now=D) == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.NEW and task.team is None
    assert task.unresolved_reason
    assert task.dispatch_due == T0 + timedelta(minutes=30)
    assert task.next_alert_at == T0 + timedelta(minutes=24)


def test_the_intake_reason_is_kept(db, hainan):
    task = make_task(HOME_COUNTY, unresolved_reason="地址无法识别")
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.unresolved_reason == "地址无法识别"


def test_only_the_given_batch_is_dispatched(crew):
    mine, other = make_task(), make_task()
    dispatch_new_tasks(batch_id=mine.batch_id, now=D)
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.status, other.status) == ("dispatched", "new")


def test_dispatching_twice_changes_nothing(crew):
    task = make_task()
    assert dispatch_new_tasks(batch_id=task.batch_id, now=D) == 1
    assert dispatch_new_tasks(batch_id=task.batch_id, now=D + timedelta(minutes=1)) == 0
    task.refresh_from_db()
    assert task.dispatched_at == D
    assert TaskTransition.objects.filter(task=task).count() == 1


def test_it_works_in_sets_with_a_constant_number_of_queries(crew, django_assert_max_num_queries):
    batch_task = make_task()
    for _ in range(40):
        make_task(batch=batch_task.batch)
    with django_assert_max_num_queries(6):
        assert dispatch_new_tasks(batch_id=batch_task.batch_id, now=D) == 41


def _lead(task, **kwargs):
    return linked_lead(task, source="big_data", priority=3, reported_at=T0, **kwargs)


def test_it_follows_the_person_to_the_current_location_given_by_a_lead(crew):
    task = make_task(OTHER_VILLAGE_SAME_TOWNSHIP)
    _lead(task, division_id=OTHER_VILLAGE_SAME_TOWNSHIP, current_division_id=HOME_VILLAGE)
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.division_id == HOME_VILLAGE and task.subunit == crew["subunit"]
    follow = TaskTransition.objects.get(task=task, to_status="new")
    assert follow.details["division"] == {"from": OTHER_VILLAGE_SAME_TOWNSHIP, "to": HOME_VILLAGE}
    assert follow.details["follow_the_person"] is True


def test_the_most_recent_current_location_wins(crew):
    task = make_task(OTHER_VILLAGE_SAME_TOWNSHIP)
    linked_lead(
        task,
        source="big_data",
        priority=3,
        reported_at=T0 - timedelta(hours=2),
        current_division_id="460106001002",
    )
    linked_lead(task, source="hotline", priority=6, reported_at=T0, current_division_id=HOME_VILLAGE)
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.division_id == HOME_VILLAGE


def test_a_coarser_current_location_containing_the_household_village_keeps_the_village(crew):
    task = make_task(HOME_VILLAGE)
    _lead(task, current_division_id=HOME_TOWNSHIP)
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.division_id == HOME_VILLAGE and task.status == TaskStatus.DISPATCHED


def test_a_coarser_current_location_elsewhere_puts_the_task_in_that_queue(crew):
    task = make_task(HOME_VILLAGE)
    _lead(task, current_division_id="460106")
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    assert task.division_id == "460106" and task.status == TaskStatus.NEW and task.unresolved_reason


def _sql_next_alert(task) -> object:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {next_alert_sql()} FROM tasks_tracingtask t WHERE t.id = %(id)s",
            {**clock_windows(), "id": task.pk},
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"dispatch_due": T0},
        {"dispatch_due": T0, "clock_alerts": 1},
        {"dispatch_due": T0, "clock_alerts": 3},
        {
            "dispatch_due": T0,
            "dispatched_at": T0,
            "radius_due": T0 + timedelta(hours=3),
            "trace_due": T0 + timedelta(hours=10),
        },
        {
            "dispatch_due": T0,
            "dispatched_at": T0,
            "radius_due": T0 + timedelta(hours=3),
            "trace_due": T0 + timedelta(hours=10),
            "clock_alerts": 1 | 4 | 8,
        },
        {
            "dispatch_due": T0,
            "dispatched_at": T0,
            "radius_due": T0 + timedelta(hours=3),
            "radius_limited_at": T0,
            "trace_due": T0 + timedelta(hours=10),
        },
        {
            "dispatch_due": T0,
            "dispatched_at": T0,
            "radius_due": T0 + timedelta(hours=3),
            "trace_due": T0 + timedelta(hours=10),
            "status": "cancelled",
        },
    ],
)
def test_python_and_sql_agree_on_next_alert_at(db, hainan, state):
    task = make_task(**state)
    assert compute_next_alert_at(task) == _sql_next_alert(task)
