"""The sweep step as one statement (tasks/sweep.py): recipients per county, delivery rows in the same
statement, the query count of a step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasks import notify
from tasks.dispatch import dispatch_new_tasks
from tasks.models import DutyShift, Notification, NotificationDelivery, Unit
from tasks.sweep import SweepResult, sweep, sweep_step
from tests.conftest import HOME_COUNTY
from tests.factories import UserFactory
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task

D = T0 + timedelta(minutes=5)
BREACH = D + timedelta(hours=3, seconds=1)


@pytest.fixture
def two_counties(crew, outsider):
    """A dispatched task in the home county and one in another county, dispatched at the same moment."""
    home = make_task()
    other = make_task(OTHER_COUNTY_VILLAGE, batch=home.batch)
    dispatch_new_tasks(batch_id=home.batch_id, now=D)
    return home, other


def recipients(task, level: str) -> set[str]:
    rows = Notification.objects.filter(task=task, escalation__level=level)
    return set(rows.values_list("recipient__username", flat=True))


def test_each_county_is_told_by_its_own_duty_desk(two_counties, crew, outsider):
    home, other = two_counties
    on_duty = UserFactory(username="night", role="duty_officer", division_id=HOME_COUNTY)
    DutyShift.objects.create(unit=crew["desk"], user=on_duty, starts_at=D, ends_at=D + timedelta(hours=12))
    result = sweep_step(now=BREACH)
    assert result.tasks == 2
    # Home: the officer on shift (alice is not on shift); the other county has no shift: all its officers.
    assert recipients(home, "breach") == {"tina", "night"}
    assert recipients(other, "breach") == {"charlie"}


def test_a_shift_ends_at_its_end(two_counties, crew):
    home, _other = two_counties
    on_duty = UserFactory(username="night", role="duty_officer", division_id=HOME_COUNTY)
    DutyShift.objects.create(unit=crew["desk"], user=on_duty, starts_at=D, ends_at=BREACH)
    sweep_step(now=BREACH)
    # Nobody on shift any more: every duty officer of the county.
    assert recipients(home, "breach") == {"tina", "alice", "night"}


def test_an_inactive_officer_on_shift_does_not_count_as_the_desk(two_counties, crew):
    home, _other = two_counties
    on_duty = UserFactory(username="night", role="duty_officer", division_id=HOME_COUNTY, is_active=False)
    DutyShift.objects.create(unit=crew["desk"], user=on_duty, starts_at=D, ends_at=D + timedelta(hours=12))
    sweep_step(now=BREACH)
    assert recipients(home, "breach") == {"tina", "alice"}


def test_a_task_without_assignee_or_subunit_leader_warns_the_desk(two_counties, crew):
    home, other = two_counties
    # The other county's village has no sub-unit leader; without an assignee its warning goes to that
    # county's desk.
    type(other).objects.filter(pk=other.pk).update(assignee=None)
    home.refresh_from_db()
    other.refresh_from_db()
    assert other.subunit_id is None or Unit.objects.get(pk=other.subunit_id).leader_id is None
    sweep_step(now=D + timedelta(minutes=150))
    assert recipients(other, "warning") == {"charlie"}
    assert recipients(home, "warning") == {home.assignee.username, "sue"}


@pytest.fixture
def channels(settings):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "phone", "LEVELS": ["breach"]},
        "email": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "email", "KINDS": ["escalation"]},
    }
    notify.outbox.clear()
    return settings


def test_the_step_writes_the_delivery_rows_of_its_notifications(two_counties, crew, outsider, channels):
    home, _other = two_counties
    for name, user in (("sue", crew["sue"]), ("tina", crew["tina"]), ("charlie", outsider)):
        user.email, user.phone = f"{name}@example.org", f"1390000{len(name):04d}"
        user.save()
    warning = sweep_step(now=D + timedelta(minutes=150))
    breach = sweep_step(now=BREACH)
    rows = set(
        NotificationDelivery.objects.values_list(
            "notification__recipient__username", "notification__escalation__level", "channel"
        )
    )
    assert rows == {
        ("sue", "warning", "email"),  # the assignee has no address; warnings are not sent by SMS
        ("charlie", "warning", "email"),  # the other county's task has neither assignee nor sub-unit leader
        ("tina", "breach", "email"),
        ("tina", "breach", "sms"),
        ("charlie", "breach", "email"),
        ("charlie", "breach", "sms"),
    }
    assert (warning.deliveries, breach.deliveries) == (2, 4)
    assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {"pending"}
    # created_deliveries_for, run again over the same notifications, adds nothing.
    assert notify.create_deliveries_for(list(Notification.objects.values_list("pk", flat=True))) == 0


def test_without_outside_channels_the_step_writes_the_inbox_only(two_counties, settings):
    settings.NOTIFICATION_CHANNELS = {}
    result = sweep_step(now=BREACH)
    assert result.notifications > 0 and result.deliveries == 0
    assert not NotificationDelivery.objects.exists()


def test_a_step_is_one_statement(two_counties, django_assert_max_num_queries):
    # savepoint, the probe, the statement, release: whatever the number of tasks.
    with django_assert_max_num_queries(4):
        result = sweep_step(now=BREACH)
    assert (result.tasks, result.escalations) == (2, 4)


def test_a_step_with_nothing_due_only_probes_the_index(two_counties, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # savepoint, the probe, release
        result = sweep_step(now=D + timedelta(minutes=1))
    assert result == SweepResult()


def test_the_loop_stops_at_the_first_step_that_is_not_full(crew):
    batch_task = make_task()
    for _ in range(4):
        make_task(batch=batch_task.batch)
    dispatch_new_tasks(batch_id=batch_task.batch_id, now=D)
    result = sweep(now=BREACH, limit=2)
    assert (result.tasks, result.escalations) == (5, 10)
    assert sweep(now=BREACH, limit=2).tasks == 0
