"""The 500s the fuzzing found, each now a 4xx that names the problem (or a rejected row)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.intake_helpers import lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(api_client):
    def login(user):
        api_client.force_authenticate(user)
        return api_client

    return login


def test_a_non_numeric_review_id_is_a_404(as_user, cdc_expert):
    client = as_user(cdc_expert)
    assert client.get("/api/v1/reviews/null/").status_code == 404
    assert client.post("/api/v1/reviews/null/approve/", {}, format="json").status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/api/v1/divisions/?q=a%00b", "/api/v1/notices/?state=%00", "/api/v1/notices/evaluation/?since=%00"],
)
def test_a_nul_byte_in_a_query_parameter_is_a_400_naming_it(as_user, commander, url):
    response = as_user(commander).get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert response.json()["errors"] == {name: ["contains a NUL character"]}


def test_a_nul_byte_in_a_page_parameter_is_a_400(client, commander):
    client.force_login(commander)
    assert client.get("/notices/?state=%00").status_code == 400


def post_leads(client, body: bytes):
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        return client.post("/api/v1/leads/", body, content_type="application/json")


def test_a_lone_surrogate_rejects_the_row_naming_the_field(as_user, duty_officer):
    rows = [lead(), lead(name="张\ud800三", external_id="bad-1")]
    body = json.dumps(rows).encode()  # ensure_ascii: the surrogate travels as \ud800
    response = post_leads(as_user(duty_officer), body)
    assert response.status_code == 201  # the other row is taken; the batch does not fail
    assert response.json()["accepted"] == 1
    (rejection,) = response.json()["rejected"]
    assert rejection["index"] == 1 and list(rejection["errors"]) == ["name"]


def test_a_lone_surrogate_elsewhere_in_the_api_is_a_400_naming_the_field(api_client):
    body = json.dumps({"username": "张\ud800", "password": "x"}).encode()
    response = api_client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["contains a lone surrogate (not UTF-8)"]}


def test_json_nested_100000_deep_is_a_400(as_user, duty_officer):
    response = post_leads(as_user(duty_officer), b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_a_reported_at_in_year_1_is_rejected_with_the_field(as_user, duty_officer):
    response = post_leads(
        as_user(duty_officer), json.dumps([lead(reported_at="0001-01-01T00:00:00Z")]).encode()
    )
    assert response.status_code == 200
    (rejection,) = response.json()["rejected"]
    assert list(rejection["errors"]) == ["reported_at"]


def test_a_csv_field_over_the_csv_limit_is_a_form_error(client, duty_officer):
    client.force_login(duty_officer)
    text = "source,external_id,name,division_code,reported_at,reason\n"
    text += f"community,x-1,张三,460105001001,2024-05-01T08:00:00,{'长' * 140_000}\n"
    upload = SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv")
    response = client.post(
        reverse("intake_upload"), {"file": upload, "source": "community", "action": "preview"}
    )
    assert response.status_code == 200
    assert "field larger than field limit" in response.content.decode()
