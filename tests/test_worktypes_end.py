"""Ending a task (tasks/worktypes.py): close / cancel / reopen / merge through the API, the
verification outcome, illegal moves (409 naming from and to), scope (another county: 404), bulk close."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tasks.dispatch import dispatch_new_tasks
from tasks.models import (
    Lead,
    LeadLink,
    Person,
    TaskKind,
    TaskStatus,
    TaskTransition,
    TracingTask,
)
from tasks.worktypes import tasks_close_bulk
from tests.factories import PersonFactory
from tests.workflow_fixtures import linked_lead, make_task

S = TaskStatus


@pytest.fixture
def task(crew):
    now = timezone.now()
    task = make_task(batch_at=now - timedelta(minutes=5), kind=TaskKind.VERIFICATION)
    dispatch_new_tasks(batch_id=task.batch_id, now=now - timedelta(minutes=4))
    task.refresh_from_db()
    return task


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def post(api_client, user, path, body=None):
    return as_user(api_client, user).post(path, body or {}, format="json")


def test_close_sets_the_outcome_and_closed_at_and_stops_the_clocks(api_client, task, crew):
    assert task.next_alert_at is not None
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "false_hit"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "closed" and body["outcome"] == "false_hit" and body["closed_at"]
    task.refresh_from_db()
    assert task.next_alert_at is None
    row = task.transitions.last()
    assert (row.from_status, row.to_status, row.actor_id) == (S.DISPATCHED, S.CLOSED, crew["alice"].pk)


def test_closing_a_closed_task_is_409_naming_from_and_to(api_client, task, crew):
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    assert response.status_code == 409
    assert (response.json()["from_status"], response.json()["to_status"]) == ("closed", "closed")


def test_an_outcome_of_another_kind_is_400_naming_the_field(api_client, task, crew):
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "released"})
    assert response.status_code == 400 and "outcome" in response.json()["errors"]
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "other"})
    assert response.status_code == 400 and "note" in response.json()["errors"]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("close", {"outcome": "no_risk"}),
        ("cancel", {"reason": "重复"}),
        ("reopen", {"reason": "x"}),
        ("kind", {"kind": "investigation", "reason": "x"}),
        ("verification", {"found": "here", "risk": False}),
    ],
)
def test_another_county_gets_404(api_client, task, outsider, action, body):
    response = post(api_client, outsider, f"/api/v1/tasks/{task.pk}/{action}/", body)
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == S.DISPATCHED


def test_field_staff_cannot_close(api_client, task, crew):
    response = post(api_client, crew["bob"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    assert response.status_code == 403


def test_cancel_needs_a_reason_and_ends_the_task(api_client, task, crew):
    assert post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/cancel/", {}).status_code == 400
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "重复录入"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["closed_at"]
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/reopen/", {"reason": "x"})
    assert response.status_code == 409 and response.json()["from_status"] == "cancelled"


def test_reopen_within_reopen_days_returns_to_the_state_it_was_closed_from(api_client, task, crew, settings):
    now = timezone.now()
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    with time_machine.travel(now + timedelta(days=settings.REOPEN_DAYS) - timedelta(minutes=1)):
        response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/reopen/", {"reason": "又有线索"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "dispatched" and body["outcome"] == "" and body["closed_at"] is None
    task.refresh_from_db()
    assert task.verify_due is not None and task.next_alert_at is not None


def test_reopen_after_reopen_days_is_409(api_client, task, crew, settings):
    now = timezone.now()
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    with time_machine.travel(now + timedelta(days=settings.REOPEN_DAYS, minutes=1)):
        response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/reopen/", {"reason": "x"})
    assert response.status_code == 409
    assert (response.json()["from_status"], response.json()["to_status"]) == ("closed", "dispatched")


def test_kind_change_by_the_duty_officer_is_in_the_history(api_client, task, crew):
    response = post(
        api_client,
        crew["alice"],
        f"/api/v1/tasks/{task.pk}/kind/",
        {"kind": "investigation", "reason": "阳性"},
    )
    assert response.status_code == 200 and response.json()["kind"] == "investigation"
    row = TaskTransition.objects.filter(task=task).last()
    assert row.details["kind"] == {"from": "verification", "to": "investigation"} and row.reason == "阳性"
    assert (
        post(
            api_client, crew["bob"], f"/api/v1/tasks/{task.pk}/kind/", {"kind": "registration", "reason": "x"}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("found", "risk", "status", "kind", "outcome"),
    [
        ("here", False, "closed", "verification", "no_risk"),
        ("false_hit", False, "closed", "verification", "false_hit"),
        ("not_found", False, "closed", "verification", "lost_contact"),
        ("here", True, "dispatched", "investigation", ""),
    ],
)
def test_the_verification_outcome(api_client, task, crew, found, risk, status, kind, outcome):
    response = post(
        api_client,
        crew["bob"],
        f"/api/v1/tasks/{task.pk}/verification/",
        {"found": found, "risk": risk, "note": "已核查"},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["kind"], body["outcome"]) == (status, kind, outcome)
    task.refresh_from_db()
    assert task.verified_at is not None
    if risk:
        assert task.radius_due is not None and task.verify_due is None


def test_moved_elsewhere_with_a_division_is_a_transfer(api_client, task, crew):
    response = post(
        api_client,
        crew["bob"],
        f"/api/v1/tasks/{task.pk}/verification/",
        {"found": "moved_away", "risk": False, "division_code": "460106001002"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "transferring"


def test_merge_moves_leads_records_and_contacts_and_merges_the_persons(api_client, task, crew):
    other = make_task(
        kind=TaskKind.INVESTIGATION, person=PersonFactory(person_key="id:abc", id_number_hash="abc")
    )
    lead = linked_lead(other, source="big_data", priority=3, reported_at=timezone.now())
    contact_lead = Lead.objects.create(
        source="close_contact", priority=1, reported_at=timezone.now(), related_task=other
    )
    found = make_task(source_task=other)
    response = post(
        api_client,
        crew["alice"],
        "/api/v1/tasks/merge/",
        {"keep": task.pk, "merge": other.pk, "reason": "同一人"},
    )
    assert response.status_code == 200, response.json()
    other.refresh_from_db()
    task.refresh_from_db()
    assert other.status == S.MERGED and other.merged_into_id == task.pk and other.closed_at
    assert LeadLink.objects.get(lead=lead).task_id == task.pk
    assert Lead.objects.get(pk=contact_lead.pk).related_task_id == task.pk
    assert TracingTask.objects.get(pk=found.pk).source_task_id == task.pk
    # The more serious kind wins; the persons are one, keyed on the resident ID's blind index.
    assert task.kind == TaskKind.INVESTIGATION
    assert other.person_id == task.person_id
    person = Person.objects.get(pk=task.person_id)
    assert person.person_key == "id:abc" and person.id_number_hash == "abc"
    assert Person.objects.filter(id_number_hash="abc").count() == 1
    assert task.transitions.filter(details__merged_from=other.pk).exists()
    assert other.transitions.filter(to_status="merged", details__merged_into=task.pk).exists()


def test_merging_an_ended_task_is_409(api_client, task, crew):
    other = make_task(status=S.CLOSED)
    response = post(
        api_client, crew["alice"], "/api/v1/tasks/merge/", {"keep": task.pk, "merge": other.pk, "reason": "x"}
    )
    assert response.status_code == 409
    assert (response.json()["from_status"], response.json()["to_status"]) == ("closed", "merged")


def test_merge_across_counties_is_404(api_client, task, crew):
    from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE

    other = make_task(division=OTHER_COUNTY_VILLAGE)
    response = post(
        api_client, crew["alice"], "/api/v1/tasks/merge/", {"keep": task.pk, "merge": other.pk, "reason": "x"}
    )
    assert response.status_code == 404


def test_bulk_close_in_one_statement(crew, task):
    from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE

    more = [make_task(kind=TaskKind.VERIFICATION) for _ in range(3)]
    outside = make_task(division=OTHER_COUNTY_VILLAGE, kind=TaskKind.VERIFICATION)
    closed = tasks_close_bulk(
        task_ids=[task.pk, *(t.pk for t in more), outside.pk], actor=crew["alice"], outcome="false_hit"
    )
    assert closed == 4
    assert set(TracingTask.objects.filter(outcome="false_hit").values_list("pk", flat=True)) == {
        task.pk,
        *(t.pk for t in more),
    }
    assert TaskTransition.objects.filter(to_status="closed", details__bulk=True).count() == 4


def test_a_lead_carries_the_outcome_of_its_task(api_client, task, crew):
    lead = linked_lead(
        task, source="big_data", priority=3, reported_at=timezone.now(), division_id=task.division_id
    )
    client = as_user(api_client, crew["alice"])
    assert client.get("/api/v1/leads/", {"outcome": "false_hit"}).json()["results"] == []
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "false_hit"})
    rows = client.get("/api/v1/leads/", {"outcome": "false_hit"}).json()["results"]
    assert [(row["id"], row["outcome"]) for row in rows] == [(lead.pk, "false_hit")]
    assert client.get("/api/v1/leads/", {"outcome": "bogus"}).status_code == 400


def test_a_resent_verification_answer_is_accepted_once(api_client, task, crew):
    body = {"found": "here", "risk": "false", "note": "在家", "idempotency_key": "k1"}
    first = post(api_client, crew["bob"], f"/api/v1/tasks/{task.pk}/verification/", body)
    again = post(api_client, crew["bob"], f"/api/v1/tasks/{task.pk}/verification/", body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert task.transitions.filter(to_status="closed").count() == 1


def test_the_field_page_offers_the_verification_form(client, task, crew):
    client.force_login(crew["bob"])
    page = client.get(f"/field/tasks/{task.pk}/").content.decode()
    assert 'data-testid="verification-form"' in page


def test_statistics_by_kind_outcome_and_hit_rate(api_client, task, crew, commander):
    linked_lead(task, source="big_data", priority=3, reported_at=timezone.now(), division_id=task.division_id)
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "false_hit"})
    other = make_task(kind=TaskKind.INVESTIGATION)
    post(api_client, crew["alice"], f"/api/v1/tasks/{other.pk}/close/", {"outcome": "lost_contact"})
    client = as_user(api_client, commander)
    kinds = {row["kind"]: row for row in client.get("/api/v1/stats/", {"group_by": "kind"}).json()["results"]}
    assert kinds["verification"]["closed_today"] == 1 and kinds["investigation"]["lost_contact"] == 1
    outcomes = client.get("/api/v1/stats/", {"group_by": "outcome"}).json()["results"]
    assert {"kind": "verification", "outcome": "false_hit", "tasks": 1} in outcomes
    rates = client.get("/api/v1/stats/", {"group_by": "hit_rate"}).json()["results"]
    assert rates == [
        {
            "source": "big_data",
            "label": rates[0]["label"],
            "leads": 1,
            "risk_found": 0,
            "no_risk": 0,
            "false_hit": 1,
            "risk_found_share": 0.0,
            "no_risk_share": 0.0,
            "false_hit_share": 1.0,
        }
    ]


# The outcome codes of the contract (docs/worktypes.md, "Names").
CONTRACT_OUTCOMES = ("no_risk", "false_hit", "released", "lost_contact", "moved_away", "deceased", "other")


@pytest.mark.parametrize("outcome", CONTRACT_OUTCOMES)
def test_every_outcome_of_the_contract_closes_a_task_of_a_kind_that_allows_it(api_client, crew, outcome):
    from tasks.models import KIND_OUTCOMES, TaskOutcome

    assert set(TaskOutcome.values) == set(CONTRACT_OUTCOMES)
    kind = next(k for k in TaskKind.values if outcome in KIND_OUTCOMES[k])
    task = make_task(kind=kind, status=S.DISPATCHED)
    response = post(
        api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": outcome, "note": "说明"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["outcome"]) == (kind, "closed", outcome) and body["closed_at"]


def test_cancelling_an_ended_task_is_409_naming_from_and_to(api_client, task, crew):
    post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"})
    response = post(api_client, crew["alice"], f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "重复"})
    assert response.status_code == 409
    assert (response.json()["from_status"], response.json()["to_status"]) == ("closed", "cancelled")


def test_the_task_page_refuses_an_illegal_move_naming_from_and_to(client, task, crew):
    client.force_login(crew["alice"])
    path = f"/tasks/{task.pk}/"
    assert client.post(path, {"action": "close", "outcome": "no_risk"}).status_code == 302
    response = client.post(path, {"action": "cancel", "reason": "重复"}, follow=True)
    task.refresh_from_db()
    assert task.status == S.CLOSED
    page = response.content.decode()
    # The message names both states by their labels.
    assert str(S.CLOSED.label) in page and str(S.CANCELLED.label) in page
    assert task.transitions.filter(to_status=S.CANCELLED).count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"action": "close", "outcome": "no_risk"},
        {"action": "cancel", "reason": "重复"},
        {"action": "reopen", "reason": "x"},
        {"action": "kind", "kind": "investigation", "reason": "x"},
    ],
)
def test_the_task_page_of_another_county_is_404_for_every_action(client, task, outsider, body):
    client.force_login(outsider)
    assert client.post(f"/tasks/{task.pk}/", body).status_code == 404
    assert client.get("/tasks/merge/", {"keep": task.pk}).status_code == 404
    task.refresh_from_db()
    assert task.status == S.DISPATCHED
