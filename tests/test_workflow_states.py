"""The task state machine (issue 4 §1): the table, the history, every illegal move refused."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tasks.dispatch import dispatch_new_tasks
from tasks.models import TaskStatus, TaskTransition, Transfer
from tasks.workflow import (
    TRANSITIONS,
    IllegalTransition,
    check_transition,
    task_change_status,
    task_mark_radius_limited,
    task_mark_traced,
    task_receive,
    task_submit,
    task_transfer,
)
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task

S = TaskStatus
D = T0 + timedelta(minutes=5)

ALL_PAIRS = [(a, b) for a in S.values for b in S.values]
LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(("from_status", "to_status"), sorted(set(ALL_PAIRS) - LEGAL))
def test_every_illegal_transition_is_refused_with_its_from_and_to(from_status, to_status):
    with pytest.raises(IllegalTransition) as caught:
        check_transition(from_status, to_status)
    assert (caught.value.from_status, caught.value.to_status) == (from_status, to_status)
    assert caught.value.code == "illegal_transition"


def test_the_main_path_is_legal():
    path = [
        "new",
        "dispatched",
        "received",
        "radius_limited",
        "traced",
        "submitted",
        "returned",
        "submitted",
        "approved",
        "reported",
        "closed",
    ]
    for a, b in itertools.pairwise(path):
        check_transition(a, b)


def test_terminal_states_go_nowhere():
    assert TRANSITIONS[S.CLOSED] == TRANSITIONS[S.MERGED] == TRANSITIONS[S.CANCELLED] == frozenset()


@pytest.fixture
def task(crew):
    task = make_task()
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    return task


def test_field_work_walks_the_states_with_one_history_row_per_change(task, crew):
    bob = crew["bob"]
    task_receive(task=task, actor=bob, now=D + timedelta(minutes=5))
    task_mark_radius_limited(task=task, actor=bob, now=D + timedelta(hours=1))
    task_mark_traced(task=task, actor=bob, now=D + timedelta(hours=5))
    task_submit(task=task, actor=bob, now=D + timedelta(hours=6))
    task_change_status(
        task=task,
        to_status="returned",
        actor=None,
        reason="轨迹时间矛盾",
        now=D + timedelta(hours=6, minutes=30),
    )
    task_submit(task=task, actor=bob, now=D + timedelta(hours=7))
    rows = list(
        TaskTransition.objects.filter(task=task).values_list("from_status", "to_status", "actor__username")
    )
    assert rows == [
        ("new", "dispatched", None),
        ("dispatched", "received", "bob"),
        ("received", "radius_limited", "bob"),
        ("radius_limited", "traced", "bob"),
        ("traced", "submitted", "bob"),
        ("submitted", "returned", None),
        ("returned", "submitted", "bob"),
    ]
    task.refresh_from_db()
    assert task.received_at == D + timedelta(minutes=5)
    assert task.radius_limited_at == D + timedelta(hours=1) and task.traced_at == D + timedelta(hours=5)
    assert task.next_alert_at is None
    assert task.version == 8


@pytest.mark.parametrize("service", [task_mark_radius_limited, task_mark_traced, task_submit])
def test_skipping_a_step_is_refused(task, crew, service):
    with pytest.raises(IllegalTransition):
        service(task=task, actor=crew["bob"])
    task.refresh_from_db()
    assert task.status == "dispatched"


def test_receiving_twice_is_refused(task, crew):
    task_receive(task=task, actor=crew["bob"])
    with pytest.raises(IllegalTransition):
        task_receive(task=task, actor=crew["bob"])


def test_a_cdc_expert_cannot_receive(task, cdc_expert):
    with pytest.raises(PermissionDenied):
        task_receive(task=task, actor=cdc_expert)


def test_a_field_account_of_another_village_cannot_receive(task, hainan):
    from tests.factories import UserFactory

    stranger = UserFactory(role="field_staff", division_id="460105001002")
    with pytest.raises(PermissionDenied):
        task_receive(task=task, actor=stranger)


def test_cancelling_a_transferring_task_closes_its_transfer(task, crew):
    task_transfer(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    task_change_status(task=task, to_status="cancelled", actor=crew["alice"], reason="重复任务")
    assert Transfer.objects.get(task=task).status == "rejected"
    task.refresh_from_db()
    assert task.status == "cancelled" and task.next_alert_at is None


def test_a_closed_task_cannot_be_reopened(task):
    from tasks.models import TracingTask

    TracingTask.objects.filter(pk=task.pk).update(status="closed")
    with pytest.raises(IllegalTransition):
        task_change_status(task=task, to_status="dispatched")


def test_resolving_requires_a_village_in_scope(crew):
    from tasks.workflow import task_resolve_division

    task = make_task("460105")
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    with pytest.raises(ValidationError):
        task_resolve_division(task=task, actor=crew["alice"], division_code="460105001")  # a township
    with pytest.raises(ValidationError):
        task_resolve_division(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE)  # elsewhere
    resolved = task_resolve_division(
        task=task, actor=crew["alice"], division_code="460105001001", now=D + timedelta(minutes=3)
    )
    assert resolved.status == "dispatched" and resolved.division_id == "460105001001"
    assert resolved.dispatched_at == D + timedelta(minutes=3)
    assert list(
        TaskTransition.objects.filter(task=task).values_list("from_status", "to_status", "actor__username")
    ) == [("new", "new", "alice"), ("new", "dispatched", "alice")]
