"""The review API (issue 6): shapes, scope, roles, conflicts."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from reviews.models import Review
from tasks.models import TracingTask, TrajectoryEntry
from tests.review_fixtures import APPROVAL

# Every test here uses the database (through the `hainan` fixture, which pytest-django cannot see).
pytestmark = pytest.mark.django_db


REVIEW_ROUTES = [
    ("get", "/api/v1/reviews/{id}/"),
    ("post", "/api/v1/reviews/{id}/claim/"),
    ("post", "/api/v1/reviews/{id}/assign/"),
    ("get", "/api/v1/reviews/{id}/comments/"),
    ("post", "/api/v1/reviews/{id}/comments/"),
    ("post", "/api/v1/reviews/{id}/return/"),
    ("post", "/api/v1/reviews/{id}/approve/"),
    ("get", "/reviews/{id}/"),
    ("post", "/reviews/{id}/claim/"),
    ("post", "/reviews/{id}/assign/"),
    ("post", "/reviews/{id}/comment/"),
    ("post", "/reviews/{id}/return/"),
    ("post", "/reviews/{id}/approve/"),
]


def test_the_queue_lists_open_reviews_with_waiting_time_and_finding_counts(api_client, review, cdc_expert):
    api_client.force_login(cdc_expert)
    body = api_client.get("/api/v1/reviews/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == review.pk and row["state"] == "pending" and row["round"] == 1
    assert row["task"]["id"] == review.task_id and row["task"]["status"] == "submitted"
    assert row["waiting_seconds"] >= 0 and row["findings"]["error"] >= 1
    assert set(row["task"]["person"]) >= {"name", "id_number", "phone"}


def test_the_queue_is_answered_in_a_constant_number_of_queries(
    api_client, review, cdc_expert, django_assert_max_num_queries
):
    api_client.force_login(cdc_expert)
    with django_assert_max_num_queries(12):
        assert api_client.get("/api/v1/reviews/").status_code == 200


def test_a_review_shows_its_findings_with_messages_and_targets(api_client, review, cdc_expert):
    api_client.force_login(cdc_expert)
    body = api_client.get(f"/api/v1/reviews/{review.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    travel = next(f for f in body["findings"] if f["rule"] == "impossible_travel")
    assert travel["severity"] == "error" and travel["title"] == "Impossible travel"
    assert "km/h" in travel["message"] and travel["target"]["kind"] == "trajectory"
    assert body["disposal"] is None and body["comments"] == []


def test_claim_comment_return_through_the_api(api_client, review, cdc_expert, field_staff):
    entry = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "三亚火车站")
    api_client.force_login(cdc_expert)
    assert api_client.post(f"/api/v1/reviews/{review.pk}/claim/").json()["state"] == "claimed"
    response = api_client.post(
        f"/api/v1/reviews/{review.pk}/comments/",
        {"body": "到达时间不可能", "target_kind": "trajectory", "target_id": entry.pk},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["target"] == {"kind": "trajectory", "id": entry.pk}
    assert len(api_client.get(f"/api/v1/reviews/{review.pk}/comments/").json()) == 1
    response = api_client.post(
        f"/api/v1/reviews/{review.pk}/return/", {"reasons": "请核实三亚行程"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["decision"], body["expert"]["username"]) == ("decided", "return", "erin")
    assert body["rework_due"] is not None and body["task"]["status"] == "returned"
    # The field team reads the comments on its task.
    api_client.force_login(field_staff)
    comments = api_client.get(f"/api/v1/tasks/{review.task_id}/review-comments/").json()
    assert [c["body"] for c in comments] == ["到达时间不可能"]


def test_approve_with_a_disposal_through_the_api(api_client, review, cdc_expert):
    place = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "海口火车站")
    api_client.force_login(cdc_expert)
    disposal = {**APPROVAL, "risk_areas": [{"entry_id": place.pk, "level": "high"}]}
    response = api_client.post(f"/api/v1/reviews/{review.pk}/approve/", {"disposal": disposal}, format="json")
    assert response.status_code == 200, response.json()
    proposal = response.json()["disposal"]
    assert proposal["measure"] == "home_quarantine" and proposal["test_schedule_days"] == [1, 4, 7]
    assert proposal["risk_areas"][0]["place"] == "海口火车站" and proposal["risk_areas"][0]["level"] == "high"
    assert TracingTask.objects.get(pk=review.task_id).status == "approved"


def test_a_bad_disposal_is_a_400_naming_the_field(api_client, review, cdc_expert):
    api_client.force_login(cdc_expert)
    response = api_client.post(
        f"/api/v1/reviews/{review.pk}/approve/", {"disposal": {**APPROVAL, "measure_days": 0}}, format="json"
    )
    assert response.status_code == 400 and "measure_days" in response.json()["errors"]


def test_a_decided_review_is_a_409(api_client, review, cdc_expert):
    api_client.force_login(cdc_expert)
    api_client.post(f"/api/v1/reviews/{review.pk}/return/", {"reasons": "补充"}, format="json")
    response = api_client.post(f"/api/v1/reviews/{review.pk}/approve/", {"disposal": APPROVAL}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "decided"


def test_a_review_claimed_by_another_expert_is_a_409(api_client, review, cdc_expert, other_expert):
    api_client.force_login(cdc_expert)
    api_client.post(f"/api/v1/reviews/{review.pk}/claim/")
    api_client.force_login(other_expert)
    assert api_client.post(f"/api/v1/reviews/{review.pk}/claim/").status_code == 409
    response = api_client.post(f"/api/v1/reviews/{review.pk}/return/", {"reasons": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "claimed_by_other"


def test_assign_is_for_lead_experts(api_client, review, cdc_expert, lead_expert, other_expert):
    api_client.force_login(cdc_expert)
    assert (
        api_client.post(
            f"/api/v1/reviews/{review.pk}/assign/", {"expert": other_expert.pk}, format="json"
        ).status_code
        == 403
    )
    api_client.force_login(lead_expert)
    response = api_client.post(
        f"/api/v1/reviews/{review.pk}/assign/", {"expert": other_expert.pk}, format="json"
    )
    assert response.status_code == 200 and response.json()["expert"]["username"] == "emma"
    assert response.json()["assigned_by"]["username"] == "leo"


@pytest.mark.parametrize(("method", "url"), REVIEW_ROUTES)
def test_a_field_account_gets_404_on_every_review_of_its_own_village(
    client, review, field_staff, method, url
):
    client.force_login(field_staff)
    response = getattr(client, method)(url.format(id=review.pk), {})
    assert response.status_code == 404
    assert Review.objects.get(pk=review.pk).state == "pending"


@pytest.mark.parametrize("url", ["/api/v1/reviews/", "/reviews/"])
def test_a_field_account_gets_403_on_the_queue(client, review, field_staff, url):
    client.force_login(field_staff)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(("method", "url"), REVIEW_ROUTES)
def test_an_expert_of_another_county_gets_404_unless_the_task_is_shared(
    client, review, outsider_expert, method, url
):
    client.force_login(outsider_expert)
    assert getattr(client, method)(url.format(id=review.pk), {}).status_code == 404


def test_a_shared_task_is_reviewed_by_the_expert_it_was_shared_with(api_client, review, outsider_expert):
    assign_perm("tasks.view_tracingtask", outsider_expert, review.task)
    api_client.force_login(outsider_expert)
    assert [r["id"] for r in api_client.get("/api/v1/reviews/").json()["results"]] == [review.pk]
    response = api_client.post(f"/api/v1/reviews/{review.pk}/return/", {"reasons": "请补充"}, format="json")
    assert response.status_code == 200 and response.json()["expert"]["username"] == "oscar"


def test_the_comments_of_a_task_are_404_outside_the_territory(api_client, review, outsider):
    api_client.force_login(outsider)
    assert api_client.get(f"/api/v1/tasks/{review.task_id}/review-comments/").status_code == 404
