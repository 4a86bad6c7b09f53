"""The monitoring API contract: list and filters, the detail with the masked person and case status,
check-ins (201, 200 for a resent key, 400 naming the field), release (409 naming why), territory 404."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import CheckIn, MonitoringPeriod, SampleDue
from tasks.models import AccessLog
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db

URL = "/api/v1/monitoring/"


def running_today(division=HOME_VILLAGE, **kwargs) -> MonitoringPeriod:
    today = timezone.localdate()
    now = timezone.now() - timedelta(days=2)
    return make_period(
        make_task(division, status="approved"),
        starts_on=today - timedelta(days=2),
        days=kwargs.pop("days", 14),
        now=now,
        **kwargs,
    )


def test_the_list_is_scoped_filtered_and_logged(api_client, crew, field_staff):
    own = running_today()
    released = running_today(state="released")
    other = running_today(OTHER_VILLAGE_SAME_TOWNSHIP)
    api_client.force_authenticate(field_staff)
    ids = {row["id"] for row in api_client.get(URL).json()["results"]}
    assert own.pk in ids and released.pk in ids and other.pk not in ids
    running = api_client.get(URL, {"state": "running"}).json()["results"]
    assert [row["id"] for row in running] == [own.pk]
    due = api_client.get(URL, {"due_today": "true"}).json()["results"]
    assert [row["id"] for row in due] == [own.pk]
    api_client.post(f"{URL}{own.pk}/checkins/", {"temperature": "36.5"}, format="json")
    assert api_client.get(URL, {"due_today": "true"}).json()["results"] == []
    assert AccessLog.objects.filter(user=field_staff, object_type="monitoringperiod").exists()
    bad = api_client.get(URL, {"state": "sleeping"})
    assert bad.status_code == 400 and "state" in bad.json()["errors"]
    assert api_client.get(URL, {"due_today": "maybe"}).status_code == 400


def test_the_detail_masks_the_person_by_role_and_carries_case_status(
    api_client, crew, field_staff, commander
):
    period = running_today()
    person = period.person
    person.name, person.phone, person.case_status = "欧阳锋华", "13712345678", "suspected"
    person.save()
    api_client.force_authenticate(field_staff)
    data = api_client.get(f"{URL}{period.pk}/").json()
    assert data["person"]["name"] == "欧阳锋华" and data["person"]["case_status"] == "suspected"
    assert {"checkins", "samples", "alerts", "state", "starts_on", "ends_on"} <= set(data)
    api_client.force_authenticate(commander)
    masked = api_client.get(f"{URL}{period.pk}/").json()
    assert masked["person"]["name"] == "欧***" and masked["person"]["phone"] == "137****5678"
    assert masked["person"]["case_status"] == "suspected"


def test_outside_the_territory_a_period_does_not_exist(api_client, crew, field_staff):
    other = running_today(OTHER_VILLAGE_SAME_TOWNSHIP)
    api_client.force_authenticate(field_staff)
    assert api_client.get(f"{URL}{other.pk}/").status_code == 404
    assert api_client.post(f"{URL}{other.pk}/checkins/", {}, format="json").status_code == 404
    assert api_client.post(f"{URL}{other.pk}/release/", {}, format="json").status_code == 404


def test_a_check_in_is_created_once_per_key_with_the_field_channel(api_client, crew, field_staff):
    period = running_today()
    api_client.force_authenticate(field_staff)
    key = str(uuid.uuid4())
    body = {"temperature": "37.8", "symptoms": ["cough"], "note": "咳嗽", "idempotency_key": key}
    first = api_client.post(f"{URL}{period.pk}/checkins/", body, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["checkin"]["abnormal"] is True and first.json()["checkin"]["channel"] == "field"
    assert first.json()["period"]["abnormal_open"] is True
    again = api_client.post(f"{URL}{period.pk}/checkins/", body, format="json")
    assert again.status_code == 200 and again.json()["checkin"]["id"] == first.json()["checkin"]["id"]
    assert CheckIn.objects.count() == 1


def test_a_check_in_of_another_caller_is_an_api_check_in(api_client, crew, team_leader):
    period = running_today()
    api_client.force_authenticate(team_leader)  # the township's team leader, not the village's sub-unit
    answer = api_client.post(f"{URL}{period.pk}/checkins/", {"temperature": 36.4}, format="json")
    assert answer.status_code == 201 and answer.json()["checkin"]["channel"] == "api"


def test_bad_check_ins_name_the_field(api_client, crew, field_staff):
    period = running_today()
    api_client.force_authenticate(field_staff)
    for body, field in (
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 45}, "temperature"),
        ({"symptoms": "cough"}, "symptoms"),
        ({"symptoms": ["sneezing"]}, "symptoms"),
        ({"idempotency_key": "nope"}, "idempotency_key"),
        ({"mood": "fine"}, "mood"),
    ):
        answer = api_client.post(f"{URL}{period.pk}/checkins/", body, format="json")
        assert answer.status_code == 400, (body, answer.status_code)
        assert field in answer.json()["errors"], (body, answer.json())
    assert api_client.post(f"{URL}{period.pk}/checkins/", [1], format="json").status_code == 400
    assert not CheckIn.objects.exists()


def test_experts_and_commanders_read_but_do_not_write(api_client, crew, cdc_expert, commander):
    period = running_today()
    for reader in (cdc_expert, commander):
        api_client.force_authenticate(reader)
        assert api_client.get(f"{URL}{period.pk}/").status_code == 200
        assert api_client.post(f"{URL}{period.pk}/checkins/", {}, format="json").status_code == 403
        assert api_client.post(f"{URL}{period.pk}/release/", {}, format="json").status_code == 403


def test_release_through_the_api_names_why_not_then_releases(api_client, crew, field_staff):
    today = timezone.localdate()
    period = running_today(days=3)  # last day: today
    SampleDue.objects.create(period=period, schedule_day=1, due_on=today - timedelta(days=2))
    api_client.force_authenticate(field_staff)
    refused = api_client.post(f"{URL}{period.pk}/release/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "release_refused" and "release" in refused.json()["errors"]
    SampleDue.objects.filter(period=period).update(state="done", result="negative", done_at=timezone.now())
    done = api_client.post(f"{URL}{period.pk}/release/", {"note": "期满解除"}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["state"] == "released" and done.json()["released_by"] == field_staff.display_name
    period.task.refresh_from_db()
    assert (period.task.status, period.task.outcome) == ("closed", "released")


def test_the_schema_documents_the_bodies(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    path = schema["paths"]["/api/v1/monitoring/{id}/checkins/"]["post"]
    assert "requestBody" in path
    assert "/api/v1/monitoring/stats/" in schema["paths"]
