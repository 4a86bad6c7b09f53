"""The duty officer's queue of unmatched lab results: list, find the person, match (with the effects of
the result), reject with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import CaseStatusChange, LabResult
from tasks.models import AccessLog, Notification
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.labs_fixtures import person_by_id, resident_id
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


def waiting(sample="Q1", result="positive", **extra) -> LabResult:
    values = {
        "lab": "市疾控实验室",
        "sample_id": sample,
        "sampled_at": timezone.now() - timedelta(hours=2),
        "test_type": "nucleic_acid",
        "result": result,
        "name": "王 五",
        "division_id": HOME_COUNTY,
        **extra,
    }
    return LabResult.objects.create(**values)


def test_the_queue_lists_unmatched_results_and_is_in_the_navigation(client, crew, password):
    result = waiting()
    waiting("Q2", match_state="rejected")
    client.login(username="alice", password=password)
    response = client.get("/lab-results/unmatched/")
    assert response.status_code == 200
    assert [r.pk for r in response.context["results"]] == [result.pk]
    assert 'href="/lab-results/unmatched/"' in response.content.decode()
    assert AccessLog.objects.filter(user=crew["alice"], object_type="labresult").exists()


def test_match_by_searching_the_blind_index(client, crew, cdc_expert, password):
    person = person_by_id(resident_id(21), name="王五")
    task = make_task(HOME_VILLAGE, person=person, status="dispatched")
    result = waiting()
    client.login(username="alice", password=password)
    page = client.get(f"/lab-results/{result.pk}/?q={resident_id(21)}")
    assert [c["person"].pk for c in page.context["candidates"]] == [person.pk]
    response = client.post(f"/lab-results/{result.pk}/", {"person": person.pk, "q": resident_id(21)})
    assert response.status_code == 302
    result.refresh_from_db()
    assert (result.match_state, result.person_id, result.task_id) == ("matched", person.pk, task.pk)
    assert result.matched_by == crew["alice"] and result.division_id == HOME_VILLAGE
    person.refresh_from_db()
    assert person.case_status == "confirmed"
    assert CaseStatusChange.objects.get(person=person).by == crew["alice"]
    assert Notification.objects.filter(kind="positive_result", recipient=cdc_expert).exists()
    task.refresh_from_db()
    assert task.priority == 1


def test_a_person_not_found_by_the_search_cannot_be_chosen(client, crew, password):
    person = person_by_id(resident_id(22))
    make_task("460106001001", person=person, status="dispatched")  # another county: not the officer's
    result = waiting()
    client.login(username="alice", password=password)
    client.post(f"/lab-results/{result.pk}/", {"person": person.pk, "q": resident_id(22)})
    result.refresh_from_db()
    assert result.match_state == "unmatched"


def test_reject_needs_a_reason(client, crew, password):
    result = waiting()
    client.login(username="alice", password=password)
    client.post(f"/lab-results/{result.pk}/reject/", {"reason": " "})
    result.refresh_from_db()
    assert result.match_state == "unmatched"
    client.post(f"/lab-results/{result.pk}/reject/", {"reason": "样本编号重复录入"})
    result.refresh_from_db()
    assert (result.match_state, result.rejection_reason, result.matched_by) == (
        "rejected",
        "样本编号重复录入",
        crew["alice"],
    )


def test_other_roles_have_no_queue(client, crew, password):
    client.login(username="bob", password=password)
    assert client.get("/lab-results/unmatched/").status_code == 403
