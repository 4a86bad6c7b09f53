"""Two check-in sweeps at the same time (separate connections, real transactions) record each alert
once and notify each person once; a large sweep shares the due periods between connections."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.db import connection

from monitoring.clock import alert_moments
from monitoring.models import MonitoringAlert, MonitoringPeriod
from monitoring.sweep import sweep
from tasks.models import Notification, UnitMembership
from tests.conftest import HOME_VILLAGE
from tests.monitoring_fixtures import make_period, notified_periods
from tests.workflow_fixtures import unit

D = date(2024, 5, 2)
LEADER = alert_moments(D)[2]
DESK = alert_moments(D)[4]
PERIODS = 40


def _run_concurrently(functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def worker(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@pytest.fixture
def due_periods(transactional_db, hainan, field_staff, duty_officer):
    from tests.factories import UserFactory

    subunit = unit("subunit", HOME_VILLAGE)
    subunit.leader = UserFactory(username="sue", role="team_leader", division_id=HOME_VILLAGE)
    subunit.save()
    UnitMembership.objects.create(unit=subunit, user=field_staff)
    return [make_period() for _ in range(PERIODS)]


def _assert_each_once():
    rows = MonitoringAlert.objects.values("period", "kind", "day")
    assert rows.distinct().count() == rows.count()
    told = notified_periods()
    assert len(set(told)) == len(told)


@pytest.mark.parametrize("limit", [7, 5000])
def test_two_concurrent_sweeps_record_each_alert_once(due_periods, limit):
    _run_concurrently([lambda: sweep(now=LEADER, limit=limit), lambda: sweep(now=LEADER, limit=limit)])
    assert MonitoringAlert.objects.filter(kind="checkin_reminder", day=D).count() == PERIODS
    assert MonitoringAlert.objects.filter(kind="checkin_leader", day=D).count() == PERIODS
    # reminder → bob (the member), leader → sue: once each per period, in one digest per step
    assert len(notified_periods()) == 2 * PERIODS
    notes = Notification.objects.filter(kind="monitoring").count()
    assert 2 <= notes <= (2 * PERIODS if limit < PERIODS else 4)
    _run_concurrently([lambda: sweep(now=DESK, limit=limit), lambda: sweep(now=DESK, limit=limit)])
    assert MonitoringAlert.objects.filter(kind="checkin_desk", day=D).count() == PERIODS
    assert len(notified_periods(data__alert="checkin_desk", recipient__username="alice")) == PERIODS
    assert set(MonitoringPeriod.objects.values_list("consecutive_misses", flat=True)) == {1}
    _assert_each_once()


def test_a_sweep_racing_a_checkin_does_not_lose_it(due_periods):
    from monitoring.services.checkins import record_checkin

    first = due_periods[0]
    _run_concurrently(
        [
            lambda: sweep(now=LEADER),
            lambda: record_checkin(first.pk, channel="field", temperature="36.4", now=LEADER),
        ]
    )
    sweep(now=DESK)
    first.refresh_from_db()
    # Whatever the order, the check-in counts: D is not missed, D + 1 is awaited.
    assert first.consecutive_misses == 0 and first.due_day == D + timedelta(days=1)
    assert not MonitoringAlert.objects.filter(period=first, kind="checkin_desk").exists()
    assert MonitoringAlert.objects.filter(kind="checkin_desk").count() == PERIODS - 1
    _assert_each_once()


def test_a_large_sweep_shares_the_due_periods_between_connections(due_periods, monkeypatch):
    import monitoring.sweep as sweep_module
    import tasks.sweep as shared_runner

    monkeypatch.setattr(shared_runner, "PARALLEL_MIN_PER_WORKER", 10)
    runs = []
    real = sweep_module._loop

    def recording(now, share, max_rounds):
        result = real(now, share, max_rounds)
        runs.append((threading.current_thread().name, share, result.periods))
        return result

    monkeypatch.setattr(sweep_module, "_loop", recording)
    result = sweep(now=LEADER, workers=2)
    assert sorted(name.startswith("checkin-sweep") for name, _, _ in runs) == [False, True]
    assert sum(periods for _, _, periods in runs) == result.periods == PERIODS
    assert result.alerts == MonitoringAlert.objects.count() == 2 * PERIODS
    assert sweep(now=LEADER, workers=2).periods == 0
    _assert_each_once()
