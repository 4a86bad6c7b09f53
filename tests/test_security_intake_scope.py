"""Leads from a scoped account stay in its territory: no cross-county task through intake, and
`related_task` does not tell which ids exist elsewhere."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from tasks.leads_io import import_rows
from tasks.models import Lead, LeadRejection
from tests.factories import TracingTaskFactory, UserFactory
from tests.intake_helpers import HOME_VILLAGE, OTHER_COUNTY_VILLAGE, lead

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


@pytest.fixture(autouse=True)
def no_dispatch():
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


@pytest.fixture
def alice(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return api_client


def test_a_county_duty_officer_cannot_send_a_lead_of_another_county(alice):
    body = alice.post(LEADS, [lead(division_code=OTHER_COUNTY_VILLAGE), lead()], format="json").json()
    assert body["accepted"] == 1
    (rejected,) = body["rejected"]
    assert rejected["index"] == 0
    assert "outside your territory (460105)" in rejected["errors"]["division_code"][0]
    assert not Lead.objects.filter(division_id=OTHER_COUNTY_VILLAGE).exists()
    assert LeadRejection.objects.count() == 1


def test_a_lead_placed_by_its_address_in_another_county_is_rejected_too(alice):
    row = lead(address="海口市龙华区人和坊某路1号")
    row.pop("division_code")
    body = alice.post(LEADS, [row], format="json").json()
    assert body["accepted"] == 0
    assert "outside your territory" in body["rejected"][0]["errors"]["division_code"][0]


def test_a_related_task_of_another_county_is_answered_like_a_missing_one(alice, hainan):
    away = TracingTaskFactory(division_id=OTHER_COUNTY_VILLAGE)
    home = TracingTaskFactory(division_id=HOME_VILLAGE)
    missing = away.pk + home.pk + 1000
    rows = [
        lead(source="close_contact", related_task=away.pk),
        lead(source="close_contact", related_task=missing),
        lead(source="close_contact", related_task=home.pk),
    ]
    body = alice.post(LEADS, rows, format="json").json()
    assert body["accepted"] == 1
    errors = {r["index"]: r["errors"]["related_task"] for r in body["rejected"]}
    assert errors == {0: [f"no task has id {away.pk}"], 1: [f"no task has id {missing}"]}


def test_a_province_account_sends_leads_of_the_whole_province(api_client, hainan):
    province = UserFactory(role="duty_officer", division_id="46")
    api_client.force_authenticate(province)
    body = api_client.post(LEADS, [lead(division_code=OTHER_COUNTY_VILLAGE), lead()], format="json").json()
    assert body["accepted"] == 2 and body["rejected"] == []


def test_the_lead_form_keeps_to_the_territory(client, password, duty_officer):
    client.login(username=duty_officer.username, password=password)
    response = client.post(
        reverse("intake_manual"),
        {
            "source": "hotline",
            "name": "王五",
            "division_code": OTHER_COUNTY_VILLAGE,
            "reported_at": "2026-12-06 08:00",
            "submission": "abcdef0123456789",
        },
    )
    assert response.status_code == 200 and not Lead.objects.exists()
    assert "460105" in response.content.decode()


def test_the_command_line_is_not_confined(hainan):
    result = import_rows(
        enumerate([lead(division_code=OTHER_COUNTY_VILLAGE)], start=2), source=None, channel="command"
    )
    assert result.accepted == 1
