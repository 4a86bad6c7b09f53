"""The check-in clock sweep (monitoring/sweep.py) with a controlled clock: each edge once, one second
after its moment and not one second before; misses, lost contact, a late sweep, overdue samples."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone, translation

from monitoring import hooks
from monitoring.clock import alert_moments, due_moment, next_moment
from monitoring.models import MonitoringAlert, MonitoringPeriod, SampleDue
from monitoring.services.checkins import record_checkin
from monitoring.sweep import sweep
from tasks import notify
from tasks.models import DutyShift, Notification, NotificationDelivery
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.monitoring_fixtures import make_period, notified_periods
from tests.workflow_fixtures import SECOND, make_task

# The fixture period starts on 2024-05-01 after that day's due hour: its first check-in day is May 2.
D = date(2024, 5, 2)
REMINDER, LEADER, DESK = (alert_moments(D)[bit] for bit in (1, 2, 4))
EDGES = [("checkin_reminder", REMINDER), ("checkin_leader", LEADER), ("checkin_desk", DESK)]


def day(n: int) -> date:
    return D + timedelta(days=n)


def alerts(period, kind=None) -> list[tuple[str, date]]:
    rows = MonitoringAlert.objects.filter(period=period)
    if kind:
        rows = rows.filter(kind=kind)
    return sorted(rows.values_list("kind", "day"))


def recipients(kind: str, on: date) -> list[str]:
    return sorted(
        Notification.objects.filter(
            kind="monitoring", data__alert=kind, data__day=on.isoformat()
        ).values_list("recipient__username", flat=True)
    )


@pytest.fixture
def reminded(monkeypatch):
    """The person reminders the sweep asked for (the notices app sends them), (day, period ids)."""
    calls: list[tuple[date, list[int]]] = []
    monkeypatch.setattr(
        hooks, "_person_reminders", {"test": lambda **kw: calls.append((kw["day"], kw["period_ids"]))}
    )
    return calls


@pytest.mark.parametrize(("kind", "moment"), EDGES, ids=[kind for kind, _ in EDGES])
def test_each_edge_fires_at_its_moment_once(period, reminded, kind, moment):
    sweep(now=moment - SECOND)
    assert (kind, D) not in alerts(period)
    result = sweep(now=moment)
    assert (kind, D) in alerts(period)
    assert result.alerts >= 1 and result.periods == 1
    sweep(now=moment + SECOND)
    sweep(now=moment + timedelta(minutes=5))
    assert alerts(period, kind).count((kind, D)) == 1
    assert MonitoringAlert.objects.filter(period=period, kind=kind, day=D).count() == 1


def test_the_edges_in_order_reach_their_people(period, crew, reminded):
    sweep(now=REMINDER)
    assert recipients("checkin_reminder", D) == ["bob", "dan"]  # the sub-unit's members
    assert reminded == [(D, [period.pk])]  # and the person, through the notices app
    sweep(now=LEADER)
    assert recipients("checkin_leader", D) == ["sue"]  # the sub-unit leader
    sweep(now=DESK)
    assert recipients("checkin_desk", D) == ["alice"]  # the county duty desk
    period.refresh_from_db()
    # D is missed; D+1 is awaited and its reminder went out at the same moment (the next due hour).
    assert (period.consecutive_misses, period.due_day, period.checkin_alerts) == (1, day(1), 1)
    assert period.state == "running"
    assert period.next_due_at == next_moment(day(1), 1) == alert_moments(day(1))[2]
    assert reminded == [(D, [period.pk]), (day(1), [period.pk])]
    assert Notification.objects.filter(kind="monitoring").count() == 2 + 1 + 1 + 2


def test_the_desk_is_the_officers_on_shift_when_there_are(period, crew):
    from tests.factories import UserFactory

    other = UserFactory(username="olive", role="duty_officer", division_id="460105")
    DutyShift.objects.create(
        unit=crew["desk"], user=other, starts_at=DESK - timedelta(hours=1), ends_at=DESK + timedelta(hours=7)
    )
    sweep(now=DESK)
    assert recipients("checkin_desk", D) == ["olive"]


def test_two_misses_make_the_person_lost_contact(period, crew, reminded):
    for moment in (REMINDER, LEADER, DESK, alert_moments(day(1))[2]):
        sweep(now=moment)
    period.refresh_from_db()
    assert period.consecutive_misses == 1 and period.state == "running"
    lost_at = alert_moments(day(1))[4]
    result = sweep(now=lost_at)
    period.refresh_from_db()
    assert (period.state, period.consecutive_misses, period.next_due_at) == ("lost_contact", 2, None)
    assert period.state_changed_at == lost_at
    assert alerts(period, "lost_contact") == [("lost_contact", day(1))]
    assert recipients("lost_contact", day(1)) == ["alice", "sue"]
    assert recipients("checkin_desk", day(1)) == ["alice"]
    # Out of the clock: no reminder for the day after, nothing later either.
    assert ("checkin_reminder", day(2)) not in alerts(period)
    assert result.periods == 1
    assert sweep(now=lost_at + timedelta(days=3)).periods == 0
    assert not MonitoringPeriod.objects.filter(pk=period.pk, next_due_at__isnull=False).exists()

    # A check-in brings the person back into the clock, misses from zero.
    back = lost_at + timedelta(days=1, hours=1)  # day(3), 11:00
    record_checkin(period, channel="field", temperature="36.6", now=back)
    period.refresh_from_db()
    assert (period.state, period.consecutive_misses, period.due_day) == ("running", 0, day(4))
    sweep(now=due_moment(day(4)))
    assert ("checkin_reminder", day(4)) in alerts(period)


def test_a_checkin_after_the_reminder_stops_the_later_edges(period, crew):
    sweep(now=REMINDER)
    record_checkin(period, channel="person", temperature="36.5", now=REMINDER + timedelta(hours=1))
    sweep(now=LEADER)
    sweep(now=DESK - SECOND)
    assert alerts(period) == [("checkin_reminder", D)]
    sweep(now=DESK)  # the next day's reminder, nothing more of D
    assert alerts(period) == [("checkin_reminder", D), ("checkin_reminder", day(1))]
    period.refresh_from_db()
    assert (period.consecutive_misses, period.due_day) == (0, day(1))


def test_a_checkin_before_the_due_hour_means_no_alert_that_day(period, crew):
    record_checkin(period, channel="field", temperature="36.5", now=REMINDER - timedelta(hours=2))
    sweep(now=LEADER)
    sweep(now=DESK - SECOND)
    assert alerts(period) == []


def test_a_late_sweep_counts_each_missed_day_once(period, crew, settings, reminded):
    settings.LOST_CONTACT_MISSES = 5
    late = alert_moments(day(2))[4] + timedelta(hours=1)  # D, D+1, D+2 missed; D+3 reminded
    result = sweep(now=late)
    period.refresh_from_db()
    assert (period.consecutive_misses, period.due_day, period.state) == (3, day(3), "running")
    assert period.checkin_alerts == 1 and period.next_due_at == alert_moments(day(3))[2]
    desk = alerts(period, "checkin_desk")
    assert desk == [("checkin_desk", day(0)), ("checkin_desk", day(1)), ("checkin_desk", day(2))]
    # Every edge of the missed days is on record, once ...
    assert len(alerts(period, "checkin_reminder")) == 4 and len(alerts(period, "checkin_leader")) == 3
    assert result.alerts == 10
    # ... but only the desk hears of days already missed; the day awaited is reminded as usual.
    assert recipients("checkin_leader", day(0)) == []
    assert recipients("checkin_reminder", day(1)) == []
    assert recipients("checkin_reminder", day(3)) == ["bob", "dan"]
    assert reminded == [(day(3), [period.pk])]
    for n in range(3):
        assert recipients("checkin_desk", day(n)) == ["alice"]
    before = Notification.objects.count()
    assert sweep(now=late + timedelta(minutes=1)).alerts == 0
    assert Notification.objects.count() == before


def test_a_late_sweep_stops_counting_at_lost_contact(period, crew):
    sweep(now=alert_moments(day(2))[4] + timedelta(hours=1))  # default: two misses
    period.refresh_from_db()
    assert (period.consecutive_misses, period.state, period.next_due_at) == (2, "lost_contact", None)
    assert alerts(period, "checkin_desk") == [("checkin_desk", day(0)), ("checkin_desk", day(1))]
    assert alerts(period, "lost_contact") == [("lost_contact", day(1))]
    assert ("checkin_reminder", day(2)) not in alerts(period)


def test_the_clock_ends_with_the_last_day(crew):
    period = make_period(days=2)  # May 1 and 2; due only on May 2
    last_desk = alert_moments(D)[4]
    sweep(now=last_desk + timedelta(days=2))
    period.refresh_from_db()
    assert (period.due_day, period.next_due_at, period.checkin_alerts) == (None, None, 0)
    assert period.consecutive_misses == 1 and period.state == "running"
    assert alerts(period, "checkin_desk") == [("checkin_desk", D)]
    assert not any(on > D for _, on in alerts(period))


def test_released_periods_are_not_swept(period, crew):
    MonitoringPeriod.objects.filter(pk=period.pk).update(state="released")
    assert sweep(now=DESK).periods == 0
    assert alerts(period) == []


def test_sweep_deadlines_runs_the_checkin_clock(period, crew):
    out = StringIO()
    call_command("sweep_deadlines", now=timezone.localtime(LEADER).isoformat(), stdout=out)
    assert "monitoring: 1 periods, 2 alerts, 3 notifications" in out.getvalue()
    assert alerts(period) == [("checkin_leader", D), ("checkin_reminder", D)]
    call_command("sweep_deadlines", now=timezone.localtime(LEADER).isoformat(), stdout=out)
    assert MonitoringAlert.objects.count() == 2


def test_sample_overdue_is_raised_once_per_period_and_day(period, crew, settings):
    for schedule_day, test_type in ((2, "nucleic_acid"), (3, "antigen")):
        SampleDue.objects.create(period=period, schedule_day=schedule_day, due_on=D, test_type=test_type)
    done = SampleDue.objects.create(period=period, schedule_day=4, due_on=D, state="done")
    later = SampleDue.objects.create(period=period, schedule_day=5, due_on=day(1))
    midnight = due_moment(day(1)) - timedelta(hours=settings.CHECKIN_DUE_HOUR)  # May 3, 00:00
    sweep(now=midnight - SECOND)
    assert alerts(period, "sample_overdue") == []
    sweep(now=midnight)
    assert alerts(period, "sample_overdue") == [("sample_overdue", D)]
    assert recipients("sample_overdue", D) == ["bob", "dan"]
    sweep(now=midnight + timedelta(hours=1))
    assert alerts(period, "sample_overdue") == [("sample_overdue", D)]
    assert Notification.objects.filter(data__alert="sample_overdue").count() == 2
    done.refresh_from_db()
    later.refresh_from_db()
    assert done.overdue_alerted_at is None and later.overdue_alerted_at is None
    sweep(now=midnight + timedelta(days=1))
    assert alerts(period, "sample_overdue") == [("sample_overdue", D), ("sample_overdue", day(1))]


def test_lost_contact_goes_by_sms_and_reads_in_chinese(period, crew, settings):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {
            "BACKEND": "tasks.notify.LocMemBackend",
            "ADDRESS": "phone",
            "KINDS": ["escalation", "monitoring"],
            "LEVELS": ["breach"],
        },
    }
    notify.outbox.clear()
    for user, phone in ((crew["alice"], "13900000011"), (crew["bob"], "13900000012")):
        user.phone = phone
        user.save()
    sweep(now=DESK)  # a missed day and a reminder: warnings, no SMS
    assert not NotificationDelivery.objects.exists()
    lost_at = alert_moments(day(1))[4]
    result = sweep(now=lost_at)
    assert result.deliveries == 1
    delivery = NotificationDelivery.objects.get()
    assert delivery.address == "13900000011"
    notify.deliver_pending(now=lost_at)
    assert len(notify.outbox) == 1
    note = Notification.objects.get(recipient=crew["alice"], data__alert="lost_contact")
    with translation.override("zh-hans"):
        subject, body = notify.render(note)
    assert subject == f"失管脱控：M{period.pk}" and "2024-05-03" in body
    with translation.override("en"):
        assert notify.render(note)[0] == f"Lost contact: M{period.pk}"
        desk = Notification.objects.get(
            recipient=crew["alice"], data__alert="checkin_desk", data__day="2024-05-02"
        )
        assert notify.render(desk)[0] == f"Check-in missed: M{period.pk}"


def test_an_alert_with_nobody_to_tell_goes_to_the_desk(crew):
    period = make_period(subunit=None)
    sweep(now=REMINDER)
    assert recipients("checkin_reminder", D) == ["alice"]
    assert alerts(period) == [("checkin_reminder", D)]


def test_the_minute_job_under_a_travelling_clock_fires_each_edge_once(period, crew):
    """The beat's path (`sweep_deadlines` without --now) with the clock moved by time-machine: every
    minute around each edge, twice a minute; each edge once, then two misses make the person lost
    contact. The narrow clock table follows the period (its triggers)."""
    from monitoring.models import PeriodClock

    lost_at = alert_moments(day(1))[4]
    for moment in (REMINDER, LEADER, DESK, alert_moments(day(1))[1], alert_moments(day(1))[2], lost_at):
        for offset in (-60, 0, 60):
            with time_machine.travel(moment + timedelta(seconds=offset), tick=False):
                call_command("sweep_deadlines", stdout=StringIO())
                call_command("sweep_deadlines", stdout=StringIO())
        assert PeriodClock.objects.get(period=period).next_due_at == (
            MonitoringPeriod.objects.get(pk=period.pk).next_due_at
        )
    assert alerts(period) == [
        ("checkin_desk", D),
        ("checkin_desk", day(1)),
        ("checkin_leader", D),
        ("checkin_leader", day(1)),
        ("checkin_reminder", D),
        ("checkin_reminder", day(1)),
        ("lost_contact", day(1)),
    ]
    period.refresh_from_db()
    assert (period.state, period.consecutive_misses) == ("lost_contact", 2)
    assert PeriodClock.objects.get(period=period).next_due_at is None


def test_the_step_writes_its_clock_rows_and_leaves_the_trigger_on_for_what_follows(crew):
    """The step moves the clock rows of its periods itself (the update trigger is off for that one
    statement only): each clock row is the period's moment after the step, and a later update of a
    period in the same transaction still reaches the clock table through the trigger."""
    from django.db import transaction

    from monitoring.models import PeriodClock
    from monitoring.sweep import checkin_step

    moved, other = make_period(), make_period()
    with transaction.atomic():
        result = checkin_step(now=REMINDER)
        assert result.periods == 2
        for period in (moved, other):
            assert PeriodClock.objects.get(period=period).next_due_at == (
                MonitoringPeriod.objects.get(pk=period.pk).next_due_at
            )
            assert PeriodClock.objects.get(period=period).next_due_at == LEADER
        MonitoringPeriod.objects.filter(pk=other.pk).update(next_due_at=DESK)
    assert PeriodClock.objects.get(period=other).next_due_at == DESK
    assert PeriodClock.objects.get(period=moved).next_due_at == LEADER


def _village_periods(villages: list[str]) -> list[MonitoringPeriod]:
    return [make_period(make_task(village, status="approved")) for village in villages]


def test_a_step_tells_each_recipient_once_per_kind_and_day(crew, reminded, client):
    """Thirty misses in a village are one line in the grid worker's inbox (and at most one SMS), naming
    how many and where, linked to the village's "due today" list; the desk's line names the township
    that holds both villages and links to its alerts."""
    home = _village_periods([HOME_VILLAGE] * 3)
    other = _village_periods([OTHER_VILLAGE_SAME_TOWNSHIP] * 2)
    sweep(now=REMINDER)
    bob = Notification.objects.get(kind="monitoring", recipient=crew["bob"])
    assert bob.task_id is None
    assert bob.data["count"] == 3 and bob.data["periods"] == sorted(p.pk for p in home)
    assert (bob.data["division"], bob.data["place"]) == (HOME_VILLAGE, "秀华社区居民委员会")
    assert recipients("checkin_reminder", D) == ["alice", "bob", "dan"]  # the other village has no members
    assert len(notified_periods()) == 3 * 2 + 2
    sweep(now=DESK)
    desk = Notification.objects.get(data__alert="checkin_desk", recipient=crew["alice"])
    assert desk.data["count"] == 5 and desk.data["division"] == "460105001"
    assert desk.data["place"] == "秀英街道"
    with translation.override("en"):
        assert notify.render(bob) == (
            "Check-ins due: 3 people in 秀华社区居民委员会",
            f"3 people in 秀华社区居民委员会 have not checked in for {D.isoformat()} by the due hour.",
        )
        assert notify.render(desk)[0] == "Check-ins missed: 5 people in 秀英街道"
    with translation.override("zh-hans"):
        subject, body = notify.render(desk)
        assert "5" in subject and "秀英街道" in subject and "Check" not in subject + body
    client.force_login(crew["bob"])
    page = client.get("/notifications/").content.decode()
    assert 'href="/field/monitoring/" data-testid="notification-link"' in page
    client.force_login(crew["alice"])
    page = client.get("/notifications/").content.decode()
    assert 'href="/monitoring/alerts/" data-testid="notification-link"' in page
    assert {p for _r, kind, _d, p in notified_periods() if kind == "checkin_desk"} == {
        p.pk for p in home + other
    }


def test_a_step_claims_the_due_periods_village_by_village(crew, reminded):
    """Created interleaved, claimed in village order: a step of three takes the home village's three,
    so its members hear of them in one notification, not two."""
    home = _village_periods([HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP] * 3)[::2]
    result = sweep(now=REMINDER, limit=3, workers=1)
    assert result.periods == 6
    bob = Notification.objects.filter(kind="monitoring", recipient=crew["bob"])
    assert bob.count() == 1
    assert bob.get().data["periods"] == sorted(p.pk for p in home)
