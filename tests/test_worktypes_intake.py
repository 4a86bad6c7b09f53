"""Triage at intake (tasks/intake.py with the TriageRule table): the kind of each new task, and the
escalation of an open task of a lighter kind when a more serious lead arrives in a later batch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Source, TaskKind, TaskTransition, TracingTask, TriageRule
from tests.intake_helpers import lead, resident_id
from tests.workflow_fixtures import make_task

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(480))

EXPECTED = {
    Source.CLOSE_CONTACT: TaskKind.INVESTIGATION,
    Source.RED_CODE: TaskKind.INVESTIGATION,
    Source.BIG_DATA: TaskKind.VERIFICATION,
    Source.YELLOW_CODE: TaskKind.VERIFICATION,
    Source.COMMUNITY: TaskKind.VERIFICATION,
    Source.HOTLINE: TaskKind.VERIFICATION,
    Source.MANUAL: TaskKind.VERIFICATION,
    Source.RETURNEE: TaskKind.REGISTRATION,
}


def send(*rows):
    result = ingest_rows(list(rows), channel="api")
    assert result.rejected == [], result.rejected[0].errors
    return result


def test_the_default_rule_table_is_seeded_by_its_migration():
    from importlib import import_module

    from tasks.models.tracing import DEFAULT_TRIAGE_RULES

    migration = import_module("tasks.migrations.0021_default_triage_rules")
    assert tuple(migration.DEFAULT_RULES) == DEFAULT_TRIAGE_RULES


def test_a_lead_set_with_all_sources_becomes_tasks_of_the_three_kinds(crew):
    parent = make_task()
    rows = []
    for source in Source.values:
        extra = {"related_task": parent.pk} if source == Source.CLOSE_CONTACT else {}
        rows.append(lead(source=source, id_number=resident_id(), **extra))
    send(*rows)
    intake_run(now=NOW)
    kinds = {source: TracingTask.objects.get(leads__source=source).kind for source in Source.values}
    assert kinds == EXPECTED
    # Dispatched at once (the crew's village has units): each kind's own clocks run, the others' do not.
    verification = TracingTask.objects.filter(kind=TaskKind.VERIFICATION).first()
    assert verification.verify_due == NOW + timedelta(minutes=240)
    assert verification.radius_due is None and verification.trace_due is None
    registration = TracingTask.objects.get(kind=TaskKind.REGISTRATION)
    assert registration.register_due == NOW + timedelta(minutes=1440) and registration.radius_due is None
    investigation = TracingTask.objects.filter(kind=TaskKind.INVESTIGATION, batch__leads__gt=0).first()
    assert investigation.radius_due == NOW + timedelta(hours=3) and investigation.verify_due is None


def test_the_most_serious_lead_of_a_person_decides(crew):
    person = resident_id()
    send(lead(source="returnee", id_number=person), lead(source="big_data", id_number=person))
    intake_run(now=NOW)
    assert TracingTask.objects.get().kind == TaskKind.VERIFICATION


def test_an_administrator_changes_the_rule_table(crew):
    TriageRule.objects.create(position=1, source="returnee", kind=TaskKind.INVESTIGATION)
    send(lead(source="returnee"))
    intake_run(now=NOW)
    assert TracingTask.objects.get().kind == TaskKind.INVESTIGATION


def test_a_more_serious_lead_escalates_an_open_verification_in_the_next_batch(crew):
    person = resident_id()
    send(lead(source="big_data", id_number=person))
    intake_run(now=NOW)
    task = TracingTask.objects.get()
    assert task.kind == TaskKind.VERIFICATION and task.verify_due is not None
    later = NOW + timedelta(minutes=20)
    send(lead(source="red_code", id_number=person))
    intake_run(now=later)
    task.refresh_from_db()
    assert TracingTask.objects.count() == 1
    assert task.kind == TaskKind.INVESTIGATION
    # The new kind's clocks start from the escalation; the verification clock stops.
    assert task.radius_due == later + timedelta(hours=3) and task.trace_due == later + timedelta(hours=10)
    assert task.verify_due is None
    assert task.next_alert_at == later + timedelta(hours=3) - timedelta(minutes=36)
    row = TaskTransition.objects.filter(task=task, details__kind__isnull=False).get()
    assert row.details["kind"] == {"from": "verification", "to": "investigation"}


def test_a_lighter_lead_does_not_de_escalate(crew):
    person = resident_id()
    send(lead(source="red_code", id_number=person))
    intake_run(now=NOW)
    send(lead(source="hotline", id_number=person))
    intake_run(now=NOW + timedelta(minutes=10))
    assert TracingTask.objects.get().kind == TaskKind.INVESTIGATION


def test_the_kind_filter_of_the_api(api_client, crew):
    send(lead(source="big_data"), lead(source="red_code"), lead(source="returnee"))
    intake_run(now=NOW)
    api_client.force_authenticate(crew["alice"])
    for kind in TaskKind.values:
        body = api_client.get("/api/v1/tasks/", {"kind": kind}).json()
        rows = body["results"] if isinstance(body, dict) else body
        assert [row["kind"] for row in rows] == [kind]
        assert {"outcome", "closed_at"} <= set(rows[0])
    assert api_client.get("/api/v1/tasks/", {"kind": "nonsense"}).status_code == 400


@pytest.mark.django_db
def test_the_task_page_filter_shows_the_kind(client, crew):
    send(lead(source="big_data"), lead(source="red_code"))
    intake_run(now=NOW)
    client.force_login(crew["alice"])
    page = client.get("/tasks/", {"kind": "verification"}).content.decode()
    assert page.count('data-testid="task-link"') == 1


def test_the_lost_contact_list_is_a_filter_of_the_task_page(client, crew):
    from tests.workflow_fixtures import make_task as task_in_home

    lost = task_in_home(status="closed", outcome="lost_contact")
    task_in_home(status="closed", outcome="no_risk")
    client.force_login(crew["alice"])
    page = client.get("/tasks/", {"outcome": "lost_contact"}).content.decode()
    assert page.count('data-testid="task-link"') == 1 and f"T{lost.pk}<" in page


def test_triage_and_escalation_through_the_api(api_client, crew):
    """The same as the set-level tests, over HTTP: leads POSTed to /api/v1/leads/, tasks read from
    /api/v1/tasks/ with their kind and the escalation in the task's history."""
    api_client.force_authenticate(crew["alice"])
    person = resident_id()
    rows = [lead(source="big_data", id_number=person), lead(source="returnee"), lead(source="red_code")]
    assert api_client.post("/api/v1/leads/", rows, format="json").status_code == 201
    intake_run(now=NOW)

    def kinds() -> dict[str, int]:
        body = api_client.get("/api/v1/tasks/").json()
        rows = body["results"] if isinstance(body, dict) else body
        return {row["kind"]: row["id"] for row in rows}

    first = kinds()
    assert set(first) == {"verification", "registration", "investigation"}
    assert (
        api_client.post(
            "/api/v1/leads/",
            [lead(source="close_contact", id_number=person, related_task=first["investigation"])],
            format="json",
        ).status_code
        == 201
    )
    intake_run(now=NOW + timedelta(minutes=20))
    task = api_client.get(f"/api/v1/tasks/{first['verification']}/").json()
    assert task["kind"] == "investigation" and task["status"] != "closed"
    assert TracingTask.objects.filter(kind="verification").count() == 0
    assert TaskTransition.objects.filter(
        task_id=first["verification"], details__kind={"from": "verification", "to": "investigation"}
    ).exists()
