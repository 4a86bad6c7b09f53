"""The deadline sweep (issue 4 §5-6): each edge one second before and after, with a frozen clock."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction

from tasks import notify
from tasks.dispatch import dispatch_new_tasks
from tasks.models import DutyShift, Escalation, Notification, NotificationDelivery, TracingTask
from tasks.sweep import sweep, sweep_step
from tasks.workflow import task_mark_radius_limited, task_mark_traced, task_receive
from tests.conftest import HOME_COUNTY
from tests.factories import UserFactory
from tests.workflow_fixtures import SECOND, T0, make_task

D = T0 + timedelta(minutes=5)  # dispatch moment of the village task

EDGES = [
    # (clock, level, moment): 80 % and 100 % of 30 min from the batch, of 3 h and 10 h from dispatch.
    ("dispatch", "warning", T0 + timedelta(minutes=24)),
    ("dispatch", "breach", T0 + timedelta(minutes=30)),
    ("radius", "warning", D + timedelta(minutes=144)),
    ("radius", "breach", D + timedelta(hours=3)),
    ("trace", "warning", D + timedelta(hours=8)),
    ("trace", "breach", D + timedelta(hours=10)),
]


@pytest.fixture
def queued_task(crew):
    """A task whose village is unknown: its dispatch clock runs in the duty desk's queue."""
    task = make_task(HOME_COUNTY)
    dispatch_new_tasks(batch_id=task.batch_id, now=T0 + timedelta(minutes=1))
    return task


@pytest.fixture
def field_task(crew):
    task = make_task()
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    return task


def recorded(task) -> set[tuple[str, str]]:
    return set(Escalation.objects.filter(task=task).values_list("clock", "level"))


@pytest.mark.parametrize(("clock", "level", "moment"), EDGES, ids=[f"{c}-{lv}" for c, lv, _m in EDGES])
def test_each_edge_fires_one_second_after_and_not_one_second_before(request, clock, level, moment):
    task = request.getfixturevalue("queued_task" if clock == "dispatch" else "field_task")
    with time_machine.travel(moment - SECOND, tick=False):
        sweep()
    assert (clock, level) not in recorded(task)
    with time_machine.travel(moment + SECOND, tick=False):
        sweep()
    assert (clock, level) in recorded(task)
    escalation = Escalation.objects.get(task=task, clock=clock, level=level)
    assert escalation.due_at == moment


def test_the_moment_itself_counts(field_task):
    sweep(now=D + timedelta(hours=3))
    assert ("radius", "breach") in recorded(field_task)


def test_next_alert_at_advances_through_the_moments_and_ends_null(field_task, crew):
    expected = [
        D + timedelta(minutes=144),
        D + timedelta(hours=3),
        D + timedelta(hours=8),
        D + timedelta(hours=10),
        None,
    ]
    seen = [field_task.next_alert_at]
    for moment in expected[:-1]:
        sweep(now=moment)
        field_task.refresh_from_db()
        seen.append(field_task.next_alert_at)
    assert seen == expected
    assert len(recorded(field_task)) == 4


def test_a_met_milestone_stops_its_clock(field_task, crew):
    task_receive(task=field_task, actor=crew["bob"], now=D + timedelta(minutes=10))
    task_mark_radius_limited(task=field_task, actor=crew["bob"], now=D + timedelta(hours=1))
    field_task.refresh_from_db()
    assert field_task.next_alert_at == D + timedelta(hours=8)  # only the trace clock still runs
    sweep(now=D + timedelta(hours=9))
    assert recorded(field_task) == {("trace", "warning")}
    task_mark_traced(task=field_task, actor=crew["bob"], now=D + timedelta(hours=9, minutes=30))
    field_task.refresh_from_db()
    assert field_task.next_alert_at is None
    sweep(now=D + timedelta(hours=11))
    assert recorded(field_task) == {("trace", "warning")}


def test_a_late_sweep_records_both_levels_once(field_task):
    sweep(now=D + timedelta(hours=4))
    assert recorded(field_task) == {("radius", "warning"), ("radius", "breach")}
    field_task.refresh_from_db()
    assert field_task.next_alert_at == D + timedelta(hours=8)
    sweep(now=D + timedelta(hours=4))
    assert Escalation.objects.filter(task=field_task).count() == 2


def test_a_sweep_with_nothing_due_does_nothing(field_task):
    result = sweep_step(now=D + timedelta(minutes=1))
    assert (result.tasks, result.escalations) == (0, 0)


def test_a_warning_goes_to_the_assignee_and_the_subunit_leader(field_task, crew):
    sweep(now=D + timedelta(minutes=150))
    recipients = set(
        Notification.objects.filter(task=field_task).values_list("recipient__username", flat=True)
    )
    assert recipients == {field_task.assignee.username, "sue"}


def test_a_breach_goes_to_the_team_leader_and_the_duty_desk(field_task, crew):
    sweep(now=D + timedelta(minutes=150))
    Notification.objects.all().delete()
    sweep(now=D + timedelta(hours=3, seconds=1))
    recipients = set(
        Notification.objects.filter(task=field_task).values_list("recipient__username", flat=True)
    )
    assert recipients == {"tina", "alice"}


def test_the_duty_desk_is_the_officers_on_shift_when_there_is_a_shift(field_task, crew):
    on_duty = UserFactory(username="night", role="duty_officer", division_id=HOME_COUNTY)
    DutyShift.objects.create(unit=crew["desk"], user=on_duty, starts_at=D, ends_at=D + timedelta(hours=12))
    sweep(now=D + timedelta(hours=3, seconds=1))
    breach = Notification.objects.filter(task=field_task, escalation__level="breach")
    assert set(breach.values_list("recipient__username", flat=True)) == {"tina", "night"}


def test_a_dispatch_warning_of_a_queued_task_goes_to_the_duty_desk(queued_task, crew):
    sweep(now=T0 + timedelta(minutes=25))
    assert set(
        Notification.objects.filter(task=queued_task).values_list("recipient__username", flat=True)
    ) == {"alice"}


def test_the_command_sweeps_as_of_the_given_time(field_task):
    out = StringIO()
    moment = (D + timedelta(minutes=145)).isoformat()
    call_command("sweep_deadlines", "--now", moment, stdout=out)
    assert recorded(field_task) == {("radius", "warning")}
    assert "1 escalations" in out.getvalue()


def test_the_command_refuses_a_bad_time():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("sweep_deadlines", "--now", "yesterday")


def test_no_clock_runs_for_a_cancelled_task(field_task):
    TracingTask.objects.filter(pk=field_task.pk).update(status="cancelled")
    sweep(now=D + timedelta(hours=11))
    assert recorded(field_task) == set()
    field_task.refresh_from_db()
    assert field_task.next_alert_at is None


def test_inside_a_transaction_the_sweep_stays_on_the_callers_connection(field_task, monkeypatch):
    import tasks.sweep as sweep_module

    def no_threads(*args, **kwargs):
        raise AssertionError("another connection could not see this transaction's rows")

    monkeypatch.setattr(sweep_module, "PARALLEL_MIN_PER_WORKER", 1)
    monkeypatch.setattr(sweep_module, "ThreadPoolExecutor", no_threads)
    assert sweep(now=D + timedelta(hours=3, seconds=1), workers=4).escalations == 2


def test_the_sweep_query_reads_the_partial_index(field_task):
    from tasks.clocks import clock_windows
    from tasks.sweep import _sweep_sql

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + _sweep_sql(), {**clock_windows(), "now": D, "limit": 100})
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "task_next_alert_due" in plan


# --- delivery ------------------------------------------------------------------------------------


@pytest.fixture
def locmem_channels(settings):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "phone", "LEVELS": ["breach"]},
        "email": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "email"},
    }
    notify.outbox.clear()
    return settings


def test_breach_sms_is_queued_then_sent_by_the_delivery_step(field_task, crew, locmem_channels):
    crew["tina"].phone = "13900000001"
    crew["tina"].save()
    sweep(now=D + timedelta(hours=3, seconds=1))
    delivery = NotificationDelivery.objects.get(channel="sms")
    assert delivery.status == "pending" and delivery.address == "13900000001"
    assert notify.deliver_step(now=D + timedelta(hours=3, seconds=2)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert [m.address for m in notify.outbox] == ["13900000001"]
    assert notify.deliver_step(now=D + timedelta(hours=3, seconds=3)) == 0


def test_warnings_are_not_sent_by_sms_when_the_channel_carries_breaches_only(
    field_task, crew, locmem_channels
):
    crew["bob"].phone = "13900000002"
    crew["bob"].save()
    sweep(now=D + timedelta(minutes=150))
    assert not NotificationDelivery.objects.filter(channel="sms").exists()


def test_a_failing_channel_is_retried_with_backoff_then_given_up(field_task, crew, locmem_channels, settings):
    settings.NOTIFICATION_CHANNELS["sms"]["OPTIONS"] = {"fail": True}
    crew["tina"].phone = "13900000001"
    crew["tina"].save()
    now = D + timedelta(hours=3, seconds=1)
    sweep(now=now)
    notify.deliver_step(now=now)
    delivery = NotificationDelivery.objects.get(channel="sms")
    assert (delivery.status, delivery.attempts) == (
        "pending",
        1,
    ) and delivery.next_attempt_at == now + timedelta(minutes=2)
    assert notify.deliver_step(now=now + timedelta(minutes=1)) == 0  # not yet: backing off
    for minutes in (2, 10, 30, 90):
        notify.deliver_step(now=now + timedelta(minutes=minutes))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 5)


def test_a_delivery_past_the_late_cutoff_is_not_sent(field_task, crew, locmem_channels):
    crew["tina"].phone = "13900000001"
    crew["tina"].save()
    sweep(now=D + timedelta(hours=3, seconds=1))
    notify.deliver_step(now=D + timedelta(hours=10))
    assert NotificationDelivery.objects.get(channel="sms").status == "failed"
    assert notify.outbox == []


def test_the_inbox_counts_unread_and_marks_read(field_task, crew):
    sweep(now=D + timedelta(hours=8, seconds=1))  # radius warning, radius breach, trace warning
    sue = crew["sue"]
    assert notify.unread_count(sue) == 2
    first = Notification.objects.filter(recipient=sue).first()
    assert notify.notifications_mark_read(user=sue, ids=[first.pk]) == 1
    assert notify.unread_count(sue) == 1
    assert notify.notifications_mark_read(user=sue) == 1
    assert notify.unread_count(sue) == 0
    assert notify.notifications_mark_read(user=crew["tina"], ids=[first.pk]) == 0  # not tina's
