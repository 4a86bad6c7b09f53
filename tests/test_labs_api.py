"""The lab results feed: POST /api/v1/test-results/ (contract, matching, idempotency) and its list."""

from __future__ import annotations

import pytest

from monitoring.models import LabResult, MatchState
from tasks.models import AccessLog
from tests.conftest import HOME_VILLAGE
from tests.labs_fixtures import person_by_id, person_by_phone, resident_id
from tests.workflow_fixtures import make_task

URL = "/api/v1/test-results/"
pytestmark = pytest.mark.django_db


def row(sample: str, **fields) -> dict:
    return {
        "lab": "海口市疾控中心实验室",
        "sample_id": sample,
        "sampled_at": "2024-05-01T08:30:00+08:00",
        "test_type": "nucleic_acid",
        "result": "negative",
        **fields,
    }


def test_contract_accepted_duplicates_rejected(lab_client, hainan):
    rows = [
        row("S1", id_number=resident_id(1)),
        row("S2", phone="13900000001", name="李四"),
        row("S1", id_number=resident_id(1)),  # repeated within the list: a duplicate
        row("S3", result="maybe", id_number=resident_id(2)),
        row("S4", phone="13900000002"),  # a phone without a name cannot be matched
        {"lab": "L", "sample_id": "S5", "result": "negative", "test_type": "pcr", "colour": "red"},
        "not an object",
    ]
    response = lab_client.post(URL, rows, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["accepted"] == 2
    assert body["duplicates"] == 1
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {3, 4, 5, 6}
    assert "result" in rejected[3]["errors"] and rejected[3]["sample_id"] == "S3"
    assert "name" in rejected[4]["errors"]
    assert {"sampled_at", "test_type", "colour", "id_number"} <= set(rejected[5]["errors"])
    assert "non_field_errors" in rejected[6]["errors"]
    assert LabResult.objects.count() == 2
    stored = LabResult.objects.get(sample_id="S1")
    # Encrypted at rest, matched on the hash.
    assert stored.id_number == resident_id(1)
    assert stored.id_number_hash and stored.division_id == "460105"


def test_resend_is_idempotent(lab_client, hainan):
    rows = [row(f"R{i}", id_number=resident_id(i)) for i in range(5)]
    first = lab_client.post(URL, rows, format="json").json()
    second = lab_client.post(URL, rows, format="json")
    assert first == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert second.status_code == 200
    assert second.json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    assert LabResult.objects.count() == 5


def test_more_than_10000_rows_refused(lab_client, hainan):
    rows = [row(f"B{i}", id_number=resident_id(1)) for i in range(10_001)]
    response = lab_client.post(URL, rows, format="json")
    assert response.status_code == 400
    assert "10,000" in str(response.json())
    assert not LabResult.objects.exists()


def test_body_limit_is_the_lead_apis(lab_client, hainan, settings):
    settings.LEAD_API_MAX_BODY_BYTES = 4096
    response = lab_client.post(
        URL, [row(f"X{i}", id_number=resident_id(1)) for i in range(100)], format="json"
    )
    assert response.status_code == 413
    assert response.json()["max_bytes"] == 4096


def test_match_by_id_then_by_phone_and_name(lab_client, crew):
    by_id = person_by_id(resident_id(7), name="王五")
    task = make_task(HOME_VILLAGE, person=by_id, status="dispatched")
    by_phone = person_by_phone("13900000009", "李 四")
    rows = [
        # The ID wins even when the phone and name are another person's.
        row("M1", id_number=resident_id(7), phone="13900000009", name="李四"),
        row("M2", phone="139-0000-0009", name="李四"),  # formatting and spacing do not matter
        row("M3", id_number=resident_id(8)),  # nobody
    ]
    assert lab_client.post(URL, rows, format="json").json()["accepted"] == 3
    m1, m2, m3 = (LabResult.objects.get(sample_id=s) for s in ("M1", "M2", "M3"))
    assert (m1.person_id, m1.task_id, m1.match_state) == (by_id.pk, task.pk, MatchState.MATCHED)
    assert m1.division_id == HOME_VILLAGE  # the task's territory
    assert (m2.person_id, m2.task_id, m2.match_state) == (by_phone.pk, None, MatchState.MATCHED)
    assert m3.person_id is None and m3.match_state == MatchState.UNMATCHED


def test_list_unmatched_is_scoped_masked_and_logged(
    lab_client, api_client, hainan, duty_officer, outsider, commander
):
    lab_client.post(URL, [row("U1", id_number=resident_id(3), name="赵六")], format="json")
    api_client.force_authenticate(duty_officer)
    response = api_client.get(URL + "?matched=false")
    assert response.status_code == 200
    results = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    assert [r["sample_id"] for r in results] == ["U1"]
    assert results[0]["id_number"] == resident_id(3)  # the duty officer sees it in full
    assert AccessLog.objects.filter(user=duty_officer, object_type="labresult").count() == 1
    api_client.force_authenticate(outsider)
    other = api_client.get(URL + "?matched=false").json()
    assert (other["results"] if isinstance(other, dict) else other) == []
    api_client.force_authenticate(commander)
    masked = api_client.get(URL + "?matched=false").json()
    masked = masked["results"] if isinstance(masked, dict) else masked
    assert masked[0]["id_number"] != resident_id(3) and "*" in masked[0]["id_number"]
    assert api_client.get(URL + "?matched=maybe").status_code == 400


def test_field_staff_may_not_post(api_client, hainan, field_staff):
    api_client.force_authenticate(field_staff)
    assert api_client.post(URL, [row("F1", id_number=resident_id(1))], format="json").status_code == 403
