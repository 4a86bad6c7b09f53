"""What a result does (controlled clock): samples closed, case status with history, the positive alert,
the desk and CDC notified at once, a P1 investigation escalated or opened; the same for a positive typed
into a task, and for an abnormal check-in."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from monitoring.models import (
    CaseStatusChange,
    LabResult,
    MonitoringAlert,
    PeriodState,
    SampleDue,
)
from monitoring.services.checkins import record_checkin
from monitoring.services.labs import ingest_rows
from tasks import fieldwork
from tasks.intake import intake_run
from tasks.models import Lead, Notification, TaskTransition, TracingTask
from tasks.notify import render
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.fieldwork_helpers import dispatched_task, test_result
from tests.labs_fixtures import person_by_id, resident_id
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import T0, make_task

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(hours=1)  # 2024-05-01 11:00 Beijing time


def lab_row(sample: str, id18: str, result: str = "positive", **extra) -> dict:
    return {
        "lab": "市疾控实验室",
        "sample_id": sample,
        "sampled_at": "2024-05-01T08:30:00+08:00",
        "test_type": "nucleic_acid",
        "result": result,
        "id_number": id18,
        **extra,
    }


def ingest(rows, now=NOW):
    return ingest_rows(rows, submitted_by_id=None, division_id=HOME_COUNTY, now=now)


def test_positive_escalates_the_active_task_sets_case_status_and_alerts(crew, cdc_expert):
    person = person_by_id(resident_id(11))
    task = make_task(HOME_VILLAGE, person=person, status="dispatched", kind="verification", priority=5)
    period = make_period(task, now=T0)
    SampleDue.objects.create(period=period, schedule_day=1, due_on=date(2024, 5, 1))
    result = ingest([lab_row("P1", resident_id(11))])
    assert (result.accepted, result.matched, result.positives) == (1, 1, 1)

    person.refresh_from_db()
    assert person.case_status == "confirmed"
    change = CaseStatusChange.objects.get(person=person)
    assert (change.from_status, change.to_status, change.at) == ("none", "confirmed", NOW)
    assert change.source_result == LabResult.objects.get(sample_id="P1")

    task.refresh_from_db()
    assert (task.kind, task.priority) == ("investigation", 1)
    assert task.radius_due is None or task.radius_due > NOW
    history = TaskTransition.objects.filter(task=task).latest("id")
    assert history.details["kind"] == {"from": "verification", "to": "investigation"}

    sample = SampleDue.objects.get(period=period)
    assert (sample.state, sample.result) == ("done", "positive")
    alert = MonitoringAlert.objects.get(period=period, kind="positive")
    assert alert.day == date(2024, 5, 1)
    period.refresh_from_db()
    assert period.abnormal_open and period.state == PeriodState.ESCALATED

    notified = Notification.objects.filter(kind="positive_result")
    assert set(notified.values_list("recipient", flat=True)) == {crew["alice"].pk, cdc_expert.pk}
    assert all(n.task_id == task.pk for n in notified)
    subject, body = render(notified.first())
    assert f"T{task.pk}" in subject and "P1" in body and "王五" not in body  # names no person (SMS)

    # A second positive the same day: no second alert, no second notification, no second history row.
    ingest([lab_row("P2", resident_id(11))], now=NOW + timedelta(minutes=5))
    assert MonitoringAlert.objects.filter(period=period, kind="positive").count() == 1
    assert notified.count() == 2
    assert CaseStatusChange.objects.filter(person=person).count() == 1


def test_positive_without_an_active_task_opens_a_p1_investigation(crew, cdc_expert):
    person = person_by_id(resident_id(12))
    make_task(HOME_VILLAGE, person=person, status="closed", kind="verification")
    ingest([lab_row("P3", resident_id(12))])
    lead = Lead.objects.get(person_key=person.person_key, channel="monitoring")
    assert (lead.priority, lead.division_id) == (1, HOME_VILLAGE)
    assert Notification.objects.filter(kind="positive_result", recipient=cdc_expert).exists()
    # The intake turns it into a P1 investigation of the same person.
    intake_run(now=NOW + timedelta(minutes=10))
    task = TracingTask.objects.get(person=person, status__in=["new", "dispatched"])
    assert (task.kind, task.priority) == ("investigation", 1)


def test_unknown_person_nothing_but_storage(crew):
    ingest([lab_row("P4", resident_id(13))])
    result = LabResult.objects.get(sample_id="P4")
    assert result.match_state == "unmatched" and result.division_id == HOME_COUNTY
    assert not Notification.objects.exists() and not Lead.objects.exists()


def test_negative_closes_the_due_sample_only(crew):
    person = person_by_id(resident_id(14))
    period = make_period(make_task(HOME_VILLAGE, person=person, status="approved"), now=T0)
    SampleDue.objects.create(period=period, schedule_day=1, due_on=date(2024, 5, 1))
    later = SampleDue.objects.create(period=period, schedule_day=3, due_on=date(2024, 5, 3))
    ingest([lab_row("N1", resident_id(14), result="pending")])
    assert SampleDue.objects.filter(state="due").count() == 2  # pending closes nothing
    ingest([lab_row("N2", resident_id(14), result="negative")])
    assert SampleDue.objects.get(schedule_day=1).state == "done"
    later.refresh_from_db()
    assert later.state == "due"
    person.refresh_from_db()
    assert person.case_status == "none"
    assert not Notification.objects.exists()


def test_positive_typed_into_a_task_by_the_field_team(crew, cdc_expert):
    task = dispatched_task(crew["bob"])
    outcome = fieldwork.record_test(
        task=task, actor=crew["bob"], data=test_result(result="positive", version=task.version)
    )
    assert outcome.created
    task.person.refresh_from_db()
    assert task.person.case_status == "confirmed"
    assert CaseStatusChange.objects.get(person=task.person).source_test_id == outcome.record.pk
    assert Notification.objects.filter(kind="positive_result", task=task).count() == 2
    task.refresh_from_db()
    assert task.priority == 1 and task.kind == "investigation"


def test_abnormal_checkin_alerts_asks_for_a_test_and_escalates(crew, cdc_expert):
    period = make_period(now=T0)  # its task is approved: no longer active
    record_checkin(period, channel="field", temperature="38.2", by=crew["bob"], now=NOW)
    assert MonitoringAlert.objects.filter(period=period, kind="abnormal").count() == 1
    notified = Notification.objects.filter(kind="abnormal_checkin")
    assert set(notified.values_list("recipient", flat=True)) == {crew["alice"].pk, cdc_expert.pk}
    sample = SampleDue.objects.get(period=period)
    assert (sample.due_on, sample.state) == (date(2024, 5, 1), "due")
    lead = Lead.objects.get(channel="monitoring")
    assert (lead.priority, lead.division_id, lead.person_key) == (1, HOME_VILLAGE, period.person.person_key)
    period.refresh_from_db()
    assert period.state == PeriodState.ESCALATED and period.abnormal_open
    # A second abnormal check-in the same day: alerted once.
    record_checkin(period, channel="person", symptoms=["cough"], now=NOW + timedelta(hours=2))
    assert notified.count() == 2 and Lead.objects.count() == 1 and SampleDue.objects.count() == 1


def test_abnormal_checkin_escalates_the_active_task(crew):
    task = make_task(HOME_VILLAGE, status="dispatched", kind="registration", priority=5)
    period = make_period(task, now=T0)
    record_checkin(period, channel="field", symptoms=["fever"], now=NOW)
    task.refresh_from_db()
    assert (task.kind, task.priority) == ("investigation", 1)
    assert not Lead.objects.exists()


def test_a_positive_posted_through_the_api_escalates_to_p1_and_alerts(lab_client, crew, cdc_expert):
    """The same effects through the HTTP API, the clock held at NOW (no `now` passed anywhere)."""
    person = person_by_id(resident_id(21))
    task = make_task(HOME_VILLAGE, person=person, status="dispatched", kind="verification", priority=5)
    period = make_period(task, now=T0)
    with time_machine.travel(NOW, tick=False):
        response = lab_client.post(
            "/api/v1/test-results/", [lab_row("API-P1", resident_id(21))], format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        # The laboratory sends the same list again: nothing happens twice.
        again = lab_client.post("/api/v1/test-results/", [lab_row("API-P1", resident_id(21))], format="json")
        assert again.json()["duplicates"] == 1
    task.refresh_from_db()
    assert (task.kind, task.priority) == ("investigation", 1)
    person.refresh_from_db()
    assert person.case_status == "confirmed"
    assert MonitoringAlert.objects.filter(period=period, kind="positive").count() == 1
    notified = Notification.objects.filter(kind="positive_result")
    recipients = set(notified.values_list("recipient", flat=True))
    assert {crew["alice"].pk, cdc_expert.pk} <= recipients and notified.count() == len(recipients)
    assert all(n.created_at == NOW for n in notified)


def test_a_positive_posted_through_the_api_opens_a_p1_investigation(lab_client, crew, cdc_expert):
    person = person_by_id(resident_id(22))
    with time_machine.travel(NOW, tick=False):
        response = lab_client.post(
            "/api/v1/test-results/", [lab_row("API-P2", resident_id(22))], format="json"
        )
        assert response.status_code == 201 and response.json()["accepted"] == 1
        intake_run()
    task = TracingTask.objects.get(person=person, status__in=["new", "dispatched"])
    assert (task.kind, task.priority) == ("investigation", 1)
    assert Notification.objects.filter(kind="positive_result", recipient=cdc_expert).exists()
