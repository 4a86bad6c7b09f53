"""Monitoring periods start from the expert's approval (in its transaction), from a completed returnee
registration, and from the idempotent catch-up; the test schedule becomes samples due."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring.clock import due_moment
from monitoring.models import MonitoringPeriod, SampleDue
from monitoring.services import periods
from reviews import services as review_services
from reviews.models import DisposalProposal
from tasks import hooks as task_hooks
from tasks.models import Unit
from tests.conftest import HOME_VILLAGE
from tests.review_fixtures import APPROVAL
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


def approve(review, expert, now, **change):
    review_services.review_claim(review=review, actor=expert, now=now)
    return review_services.review_approve(
        review=review, actor=expert, disposal={**APPROVAL, **change}, now=now
    )


def settings_due_hour() -> int:
    from django.conf import settings

    return settings.CHECKIN_DUE_HOUR


def local(day: date, hour: int) -> datetime:
    return due_moment(day) + timedelta(hours=hour - settings_due_hour())


def test_an_approval_starts_the_period_and_its_samples_in_the_same_transaction(review, cdc_expert):
    day = timezone.localdate() + timedelta(days=1)
    now = local(day, 8)  # before the due hour: the first check-in is due the same day
    approve(review, cdc_expert, now)
    period = MonitoringPeriod.objects.get(person=review.task.person)
    disposal = DisposalProposal.objects.get(review=review)
    assert (period.origin, period.measure, period.disposal_id, period.task_id) == (
        "disposal",
        "home_quarantine",
        disposal.pk,
        review.task_id,
    )
    assert (period.starts_on, period.ends_on) == (day, day + timedelta(days=13))
    assert period.division_id == review.task.division_id == HOME_VILLAGE
    assert period.subunit == Unit.objects.get(kind="subunit", division_id=HOME_VILLAGE)
    assert period.due_day == day and period.next_due_at == due_moment(day)
    assert period.applied_disposals == [disposal.pk]
    samples = list(SampleDue.objects.filter(period=period).values_list("schedule_day", "due_on", "state"))
    assert samples == [
        (1, day, "due"),
        (4, day + timedelta(days=3), "due"),
        (7, day + timedelta(days=6), "due"),
    ]


def test_an_approval_after_the_due_hour_is_first_due_the_next_day(review, cdc_expert):
    day = timezone.localdate() + timedelta(days=1)
    approve(review, cdc_expert, local(day, 15))
    period = MonitoringPeriod.objects.get(person=review.task.person)
    assert period.due_day == day + timedelta(days=1)


def test_no_measure_starts_no_period(review, cdc_expert):
    approve(review, cdc_expert, timezone.now(), measure="none", measure_days=0, test_schedule_days=[])
    assert not MonitoringPeriod.objects.exists()


def test_the_catch_up_starts_what_the_hook_missed_once(review, cdc_expert, monkeypatch):
    from reviews import hooks as review_hooks

    monkeypatch.setattr(review_hooks, "_disposal_approved", {})
    now = timezone.now()
    approve(review, cdc_expert, now)
    assert not MonitoringPeriod.objects.exists()
    first = periods.catch_up(now=now)
    assert first == {"started": 1, "extended": 0, "samples": 3}
    assert periods.catch_up(now=now) == {"started": 0, "extended": 0, "samples": 0}
    call_command("monitoring_start_periods", "--now", now.isoformat(), stdout=open("/dev/null", "w"))
    assert MonitoringPeriod.objects.count() == 1 and SampleDue.objects.count() == 3
    # A released period keeps the disposal applied: the catch-up does not start the person again.
    MonitoringPeriod.objects.update(state="released")
    assert periods.catch_up(now=now + timedelta(days=20))["started"] == 0


def test_the_clock_sweep_runs_the_catch_up(review, cdc_expert, monkeypatch):
    from reviews import hooks as review_hooks

    monkeypatch.setattr(review_hooks, "_disposal_approved", {})
    now = timezone.now()
    approve(review, cdc_expert, now)
    results = task_hooks.run_clock_sweeps(now)
    assert results["monitoring_periods"]["started"] == 1
    assert MonitoringPeriod.objects.count() == 1


def test_a_person_with_an_open_period_has_it_extended_not_a_second(review, cdc_expert, crew):
    from tests.monitoring_fixtures import make_period

    today = timezone.localdate()
    existing = make_period(
        make_task(HOME_VILLAGE, status="approved", person=review.task.person),
        starts_on=today - timedelta(days=5),
        days=7,
        now=timezone.now() - timedelta(days=5),
    )
    now = local(today, 8)
    approve(review, cdc_expert, now, measure_days=10, test_schedule_days=[1, 3])
    assert MonitoringPeriod.objects.count() == 1
    existing.refresh_from_db()
    disposal = DisposalProposal.objects.get(review=review)
    assert existing.ends_on == today + timedelta(days=9)
    assert existing.measure == "home_quarantine" and existing.disposal_id == disposal.pk
    assert existing.applied_disposals == [disposal.pk]
    # The schedule counts from the approval; the rows count from the period's first day.
    assert list(SampleDue.objects.filter(period=existing).values_list("schedule_day", "due_on")) == [
        (6, today),
        (8, today + timedelta(days=2)),
    ]
    assert periods.catch_up(now=now) == {"started": 0, "extended": 0, "samples": 0}


def test_a_completed_registration_starts_returnee_health_monitoring(crew, settings):
    settings.RETURNEE_MONITOR_DAYS = 14
    task = make_task(HOME_VILLAGE, status="received", kind="registration")
    now = local(timezone.localdate(), 9)
    task.registered_at = now
    task.save(update_fields=["registered_at"])
    task_hooks.registration_completed([task.pk], now)
    period = MonitoringPeriod.objects.get(task=task)
    assert (period.origin, period.measure, period.person_id) == (
        "registration",
        "health_monitoring",
        task.person_id,
    )
    assert (period.starts_on, period.ends_on) == (now.date(), now.date() + timedelta(days=13))
    assert period.due_day == now.date() and period.disposal_id is None
    task_hooks.registration_completed([task.pk], now)
    assert MonitoringPeriod.objects.count() == 1 and not SampleDue.objects.exists()


def test_two_catch_ups_at_once_start_one_period(
    transactional_db, hainan, field_staff, cdc_expert, monkeypatch
):
    import threading

    from django.db import connection

    from reviews import hooks as review_hooks
    from tests.review_fixtures import clean_fieldwork, submit, traced_task

    monkeypatch.setattr(review_hooks, "_disposal_approved", {})
    reported_at = timezone.now() - timedelta(days=1)
    task = traced_task(reported_at=reported_at)
    clean_fieldwork(task, field_staff, reported_at)
    approve(submit(task, field_staff), cdc_expert, timezone.now())
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def run():
        try:
            barrier.wait()
            results.append(periods.catch_up())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["started"] for r in results) + sum(r["extended"] for r in results) >= 1
    assert MonitoringPeriod.objects.count() == 1 and SampleDue.objects.count() == 3
