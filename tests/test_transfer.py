"""Transfer (转办, issue 4 §4): accept, reject, never lost, clocks keep running, overdue tasks keep their
breach state and escalations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tasks.dispatch import dispatch_new_tasks
from tasks.models import Escalation, Notification, TaskStatus, TaskTransition, Transfer, Unit, UnitMembership
from tasks.selectors import tasks_visible_to, transfers_visible_to
from tasks.sweep import sweep
from tasks.workflow import (
    IllegalTransition,
    task_receive,
    task_transfer,
    task_transfer_accept,
    task_transfer_reject,
)
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.factories import UserFactory
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task

D = T0 + timedelta(minutes=5)


@pytest.fixture
def task(crew):
    task = make_task()
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    return task


@pytest.fixture
def receiver_member(db, hainan):
    member = UserFactory(username="far", role="field_staff", division_id=OTHER_COUNTY_VILLAGE)
    UnitMembership.objects.create(
        unit=Unit.objects.get(kind="subunit", division_id=OTHER_COUNTY_VILLAGE), user=member
    )
    return member


def test_a_transfer_waits_visible_read_only_to_the_sender_and_in_the_receivers_inbox(task, crew, outsider):
    transfer = task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="人在龙华区",
        now=D + timedelta(minutes=20),
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.TRANSFERRING and task.division_id == HOME_VILLAGE
    assert tasks_visible_to(crew["alice"]).filter(pk=task.pk).exists()
    assert not tasks_visible_to(outsider).filter(pk=task.pk).exists()
    assert list(transfers_visible_to(outsider)) == [transfer]
    assert list(transfers_visible_to(crew["alice"])) == [transfer]
    # The receiving desk is told.
    assert Notification.objects.filter(
        recipient=outsider, kind="transfer_requested", transfer=transfer
    ).exists()
    # Read-only for the sender while it waits: no field work, no second transfer.
    with pytest.raises(IllegalTransition):
        task_receive(task=task, actor=crew["bob"])
    with pytest.raises(IllegalTransition):
        task_transfer(task=task, actor=crew["alice"], division_code="460106", reason="again")


def test_accepting_dispatches_the_task_there_and_keeps_its_clocks(task, crew, outsider, receiver_member):
    task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="人在龙华区",
        now=D + timedelta(minutes=20),
    )
    task_transfer_accept(task=task, actor=outsider, now=D + timedelta(minutes=40))
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED and task.division_id == OTHER_COUNTY_VILLAGE
    assert task.subunit.division_id == OTHER_COUNTY_VILLAGE and task.assignee == receiver_member
    # The clocks keep running from the first dispatch: no restart.
    assert task.dispatched_at == D and task.radius_due == D + timedelta(hours=3)
    assert tasks_visible_to(outsider).filter(pk=task.pk).exists()
    assert not tasks_visible_to(crew["alice"]).filter(pk=task.pk).exists()
    steps = list(TaskTransition.objects.filter(task=task).values_list("from_status", "to_status"))
    assert steps == [("new", "dispatched"), ("dispatched", "transferring"), ("transferring", "dispatched")]
    assert Transfer.objects.get(task=task).status == "accepted"
    assert Notification.objects.filter(recipient=crew["alice"], kind="transfer_accepted").exists()


def test_rejecting_returns_the_task_to_its_previous_state(task, crew, outsider):
    task_receive(task=task, actor=crew["bob"], now=D + timedelta(minutes=10))
    task_transfer(
        task=task,
        actor=crew["bob"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="人在龙华区",
        now=D + timedelta(minutes=20),
    )
    task_transfer_reject(task=task, actor=outsider, reason="查无此人", now=D + timedelta(minutes=30))
    task.refresh_from_db()
    assert (
        task.status == TaskStatus.RECEIVED and task.division_id == HOME_VILLAGE and task.assignee is not None
    )
    transfer = Transfer.objects.get(task=task)
    assert (transfer.status, transfer.decision_reason, transfer.decided_by) == (
        "rejected",
        "查无此人",
        outsider,
    )
    last = TaskTransition.objects.filter(task=task).last()
    assert (last.from_status, last.to_status, last.reason) == ("transferring", "received", "查无此人")
    assert Notification.objects.filter(recipient=crew["bob"], kind="transfer_rejected").exists()


def test_a_rejection_needs_a_reason(task, crew, outsider):
    task_transfer(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    with pytest.raises(ValidationError):
        task_transfer_reject(task=task, actor=outsider, reason=" ")


def test_only_the_receiving_desk_decides(task, crew, outsider):
    task_transfer(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    with pytest.raises(PermissionDenied):
        task_transfer_accept(task=task, actor=crew["alice"])  # the sender
    receiver_staff = UserFactory(role="field_staff", division_id=OTHER_COUNTY_VILLAGE)
    with pytest.raises(PermissionDenied):
        task_transfer_accept(task=task, actor=receiver_staff)  # not a duty desk


def test_the_city_desk_may_decide_for_its_counties(task, crew):
    city = UserFactory(role="duty_officer", division_id="4601")
    task_transfer(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    task_transfer_accept(task=task, actor=city)
    task.refresh_from_db()
    assert task.division_id == OTHER_COUNTY_VILLAGE


def test_a_transfer_to_a_county_lands_in_its_queue(task, crew, outsider):
    task_transfer(task=task, actor=crew["alice"], division_code="460106", reason="只知道在龙华区")
    task_transfer_accept(task=task, actor=outsider)
    task.refresh_from_db()
    assert task.status == TaskStatus.NEW and task.division_id == "460106" and task.unresolved_reason
    assert task.team is None and task.assignee is None


def test_a_transfer_of_an_overdue_task_keeps_its_breach_and_escalations(
    task, crew, outsider, receiver_member
):
    sweep(now=D + timedelta(hours=3, minutes=1))
    assert Escalation.objects.filter(task=task).count() == 2
    task.refresh_from_db()
    alerts_before, next_before = task.clock_alerts, task.next_alert_at
    task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="x",
        now=D + timedelta(hours=3, minutes=5),
    )
    task.refresh_from_db()
    assert (task.clock_alerts, task.next_alert_at) == (alerts_before, next_before)
    task_transfer_accept(task=task, actor=outsider, now=D + timedelta(hours=3, minutes=10))
    task.refresh_from_db()
    assert task.clock_alerts == alerts_before and task.next_alert_at == D + timedelta(hours=8)
    assert task.radius_due == D + timedelta(hours=3)  # still breached
    from tasks.clocks import filter_overdue
    from tasks.models import TracingTask

    assert (
        filter_overdue(TracingTask.objects.all(), "radius", D + timedelta(hours=3, minutes=10))
        .filter(pk=task.pk)
        .exists()
    )
    # The escalations follow the task to its new territory and are not recorded again.
    sweep(now=D + timedelta(hours=3, minutes=11))
    assert Escalation.objects.filter(task=task).count() == 2


def test_the_clocks_keep_running_during_a_transfer(task, crew):
    task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="x",
        now=D + timedelta(minutes=10),
    )
    sweep(now=D + timedelta(hours=3, seconds=1))
    assert set(Escalation.objects.filter(task=task).values_list("clock", "level")) == {
        ("radius", "warning"),
        ("radius", "breach"),
    }


def test_an_unresolved_task_can_be_transferred_and_its_dispatch_clock_runs_on(
    crew, outsider, receiver_member
):
    task = make_task(HOME_COUNTY)
    dispatch_new_tasks(batch_id=task.batch_id, now=T0 + timedelta(minutes=1))
    task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="人在龙华区",
        now=T0 + timedelta(minutes=10),
    )
    task_transfer_accept(task=task, actor=outsider, now=T0 + timedelta(minutes=20))
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED and task.dispatched_at == T0 + timedelta(minutes=20)
    assert task.dispatch_due == T0 + timedelta(minutes=30)


@pytest.mark.parametrize("code", ["46", "999999", ""])
def test_a_transfer_needs_a_real_target_below_the_province(task, crew, code):
    with pytest.raises(ValidationError):
        task_transfer(task=task, actor=crew["alice"], division_code=code, reason="x")


def test_a_transfer_needs_a_reason(task, crew):
    with pytest.raises(ValidationError):
        task_transfer(task=task, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="")
