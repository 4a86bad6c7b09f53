"""Body limits: the lead API takes its documented maximum of 10,000 realistic rows in one request;
too-large bodies get a JSON 413 naming the limit (not Django's plain HTML 400)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.conf import settings

from tasks.leads_io import MAX_API_ROWS
from tasks.models import Lead
from tests.intake_helpers import HOME_VILLAGE, lead

pytestmark = pytest.mark.django_db
LEADS = "/api/v1/leads/"


def realistic(n: int) -> dict:
    return lead(
        phone=f"139{n:08d}",
        current_division_code=HOME_VILLAGE,
        address=f"海南省海口市秀英区秀华路{n % 300}号{n % 20}栋{n % 9 + 1}0{n % 4 + 1}室（出租屋，房东联系电话见备注）",
        reason="健康码转红：与确诊病例同一时空伴随，14天内有中高风险地区旅居史，社区排查上报",
        payload={"channel": "大数据推送", "batch": f"2024-05-01-{n // 1000:03d}", "hits": n % 7},
    )


def test_the_lead_api_takes_its_maximum_of_realistic_rows(api_client, duty_officer):
    rows = [realistic(n) for n in range(MAX_API_ROWS)]
    body = json.dumps(rows, ensure_ascii=False).encode()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # the limit that answered 400 before
    api_client.force_authenticate(duty_officer)
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        response = api_client.post(LEADS, body, content_type="application/json")
    assert response.status_code == 201, response.content[:500]
    assert response.json()["accepted"] == MAX_API_ROWS
    assert Lead.objects.count() == MAX_API_ROWS


def test_a_body_over_the_lead_limit_is_a_json_413(api_client, duty_officer, settings):
    settings.LEAD_API_MAX_BODY_BYTES = 4096
    api_client.force_authenticate(duty_officer)
    response = api_client.post(LEADS, b"[" + b" " * 5000 + b"]", content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["max_bytes"] == 4096


def test_a_too_large_body_elsewhere_in_the_api_is_a_json_413(api_client, cdc_expert):
    api_client.force_authenticate(cdc_expert)
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = api_client.post(
        "/api/v1/reviews/1/approve/", b"{" + b" " * size + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["max_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
