"""The review pages (issue 6): queue, review page with its forms, the comments include for the field
team, strict CSP (no inline script or style)."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from reviews.models import DisposalProposal, Review, ReviewComment
from tasks.models import TracingTask, TrajectoryEntry

# Every test here uses the database (through the `hainan` fixture, which pytest-django cannot see).
pytestmark = pytest.mark.django_db


def test_the_queue_page_lists_the_review_with_its_waiting_time(client, review, cdc_expert):
    client.force_login(cdc_expert)
    html = client.get("/reviews/").content.decode()
    assert f'data-review="{review.pk}"' in html and f"T{review.task_id}" in html


def test_the_review_page_shows_the_trajectory_map_findings_and_forms(client, review, cdc_expert):
    client.force_login(cdc_expert)
    response = client.get(f"/reviews/{review.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    sanya = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "三亚火车站")
    # The finding is shown next to the entry it is about.
    block = html.split(f'id="trajectory-{sanya.pk}"', 1)[1].split("</li>", 1)[0]
    assert 'data-rule="impossible_travel"' in block
    assert (
        'id="trajectory-points"' in html
        and "vendor/leaflet/leaflet.js" in html
        and "reviews/review_map.js" in html
    )
    assert 'data-testid="return-form"' in html and 'data-testid="approve-form"' in html
    assert "本人接听" in html  # the field team's notes


def test_the_review_page_has_no_inline_script_or_style(client, review, cdc_expert):
    client.force_login(cdc_expert)
    html = client.get(f"/reviews/{review.pk}/").content.decode()
    assert " style=" not in html and not re.search(r"\son[a-z]+=", html)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_review_page_works_without_a_tile_server(client, review, cdc_expert, settings):
    settings.MAP_TILE_URL = ""
    client.force_login(cdc_expert)
    html = client.get(f"/reviews/{review.pk}/").content.decode()
    assert 'data-tile-url=""' in html and "no-tiles" in html


def test_comment_return_through_the_pages(client, review, cdc_expert):
    entry = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "三亚火车站")
    client.force_login(cdc_expert)
    client.post(f"/reviews/{review.pk}/claim/")
    response = client.post(
        f"/reviews/{review.pk}/comment/",
        {"body": "时间矛盾", "target_kind": "trajectory", "target_id": entry.pk},
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#trajectory-{entry.pk}")
    assert ReviewComment.objects.get().target_id == entry.pk
    response = client.post(f"/reviews/{review.pk}/return/", {"reasons": "请核实"})
    assert response.status_code == 302
    assert TracingTask.objects.get(pk=review.task_id).status == "returned"


def test_an_empty_return_reason_shows_the_form_again(client, review, cdc_expert):
    client.force_login(cdc_expert)
    response = client.post(f"/reviews/{review.pk}/return/", {"reasons": ""})
    assert response.status_code == 400
    assert Review.objects.get(pk=review.pk).state == "pending"


def test_approve_with_disposal_through_the_page(client, review, cdc_expert):
    place = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "海口火车站")
    client.force_login(cdc_expert)
    response = client.post(
        f"/reviews/{review.pk}/approve/",
        {
            "measure": "centralised_quarantine",
            "measure_days": "14",
            "test_schedule_days": "1，4，7",
            "notify_person": "on",
            f"risk_{place.pk}": "medium",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    proposal = DisposalProposal.objects.get()
    assert proposal.measure == "centralised_quarantine" and proposal.test_schedule_days == [1, 4, 7]
    assert [a.place for a in proposal.risk_areas.all()] == ["海口火车站"]


def test_a_review_claimed_by_another_expert_shows_no_forms(client, review, cdc_expert, other_expert):
    client.force_login(other_expert)
    client.post(f"/reviews/{review.pk}/claim/")
    client.force_login(cdc_expert)
    html = client.get(f"/reviews/{review.pk}/").content.decode()
    assert 'data-testid="return-form"' not in html and "专家庚" in html


def test_the_comments_include_for_the_field_page(review, cdc_expert):
    from reviews import services

    entry = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "三亚火车站")
    services.review_comment(
        review=review, actor=cdc_expert, body="请核实到达时间", target_kind="trajectory", target_id=entry.pk
    )
    services.review_return(review=review, actor=cdc_expert, reasons="行程矛盾")
    task = TracingTask.objects.get(pk=review.task_id)
    html = Template("{% load review_tags %}{% review_comments_for_task task %}").render(
        Context({"task": task})
    )
    assert "请核实到达时间" in html and "三亚火车站" in html and "行程矛盾" in html


def test_the_comments_include_is_empty_for_a_task_never_reviewed(hainan):
    from tests.factories import TracingTaskFactory

    html = Template("{% load review_tags %}{% review_comments_for_task task %}").render(
        Context({"task": TracingTaskFactory()})
    )
    assert html.strip() == ""


def test_opening_a_review_is_recorded_in_the_access_log(client, review, cdc_expert):
    from tasks.models import AccessLog

    client.force_login(cdc_expert)
    client.get(f"/reviews/{review.pk}/")
    assert AccessLog.objects.filter(user=cdc_expert, task_id=review.task_id, action="view").exists()
