"""Field work API (issue 5): scope (404), roles (403), validation (400), idempotency, conflicts (409),
completeness on submit, masking, and the journey through the API alone."""

from __future__ import annotations

import pytest

from tasks import workflow
from tasks.models import CloseContact, ContactAttempt, Role, TaskStatus, TracingTask, TrajectoryEntry
from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import UserFactory
from tests.fieldwork_helpers import attempt, contact, dispatched_task, entry, key, radius, test_result

pytestmark = pytest.mark.django_db
S = TaskStatus

WRITES = {
    "attempts": attempt,
    "radius": radius,
    "trajectory": entry,
    "contacts": contact,
    "tests": test_result,
}
READS = ["attempts", "radius", "trajectory", "contacts", "tests", "submit", "fieldwork"]


@pytest.fixture
def task(field_staff):
    return dispatched_task(field_staff)


@pytest.fixture
def bob(api_client, field_staff):
    api_client.force_authenticate(field_staff)
    return api_client


def url(task, route: str) -> str:
    return f"/api/v1/tasks/{task.pk}/{route}/"


def version(task) -> int:
    task.refresh_from_db()
    return task.version


# --- scope and roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", READS)
def test_a_task_outside_the_territory_does_not_exist_for_reads(api_client, task, outsider, route):
    api_client.force_authenticate(outsider)
    assert api_client.get(url(task, route)).status_code == 404


@pytest.mark.parametrize("route", [*WRITES, "submit", "trajectory/traced"])
def test_a_field_worker_of_another_village_gets_404_on_writes(api_client, task, hainan, route):
    neighbour = UserFactory(role=Role.FIELD_STAFF, division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    api_client.force_authenticate(neighbour)
    make = WRITES.get(route, lambda **kw: {"idempotency_key": key(), **kw})
    response = api_client.post(url(task, route), make(version=task.version), format="json")
    assert response.status_code == 404
    assert not ContactAttempt.objects.exists() and not TrajectoryEntry.objects.exists()


@pytest.mark.parametrize("route", [*WRITES, "submit", "trajectory/traced"])
def test_roles_without_field_work_get_403_on_writes(api_client, task, duty_officer, route):
    api_client.force_authenticate(duty_officer)
    make = WRITES.get(route, lambda **kw: {"idempotency_key": key(), **kw})
    response = api_client.post(url(task, route), make(version=task.version), format="json")
    assert response.status_code == 403


def test_a_trajectory_entry_of_another_task_is_404(bob, field_staff, task):
    other = dispatched_task(field_staff)
    created = bob.post(url(other, "trajectory"), entry(version=other.version), format="json").json()
    response = bob.patch(
        f"{url(task, 'trajectory')}{created['id']}/", {"version": task.version, "seat": "1A"}, format="json"
    )
    assert response.status_code == 404


def test_anonymous_requests_are_refused(api_client, task):
    assert api_client.get(url(task, "attempts")).status_code in (401, 403)


# --- validation --------------------------------------------------------------------------------------------


def test_invalid_input_is_a_400_naming_the_field_and_the_reason(bob, task):
    response = bob.post(
        url(task, "contacts"), contact(version=task.version, phone="12345", relation="enemy"), format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"phone", "relation"}
    assert body["errors"]["relation"][0].startswith(("unknown value", "未知"))
    response = bob.post(url(task, "radius"), {"version": task.version}, format="json")
    assert response.status_code == 400 and "idempotency_key" in response.json()["errors"]


def test_a_body_that_is_not_an_object_is_a_400(bob, task):
    response = bob.post(url(task, "attempts"), [1, 2], format="json")
    assert response.status_code == 400


# --- idempotency and conflicts -------------------------------------------------------------------------------


def test_a_resend_returns_the_same_record_with_200(bob, task):
    data = radius(version=task.version)
    first = bob.post(url(task, "radius"), data, format="json")
    second = bob.post(url(task, "radius"), data, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["task"]["status"] == S.RADIUS_LIMITED
    assert first.json()["task"]["version"] == version(task) > data["version"]


def test_a_stale_version_answers_409_with_the_current_state(bob, task):
    seen = task.version
    bob.post(url(task, "radius"), radius(version=seen), format="json")
    response = bob.post(url(task, "trajectory"), entry(version=seen), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale" and body["task"]["version"] == version(task) and body["detail"]


def test_a_task_transferred_away_meanwhile_answers_409_saying_where(bob, task, duty_officer, hainan):
    seen = task.version
    workflow.task_transfer(task=task, actor=duty_officer, division_code="460106001002", reason="人在龙华区")
    response = bob.post(url(task, "attempts"), attempt(version=seen), format="json")
    assert response.status_code == 409 and response.json()["code"] == "transferred"
    receiver = UserFactory(
        username="lh", full_name="龙华值班员", role=Role.DUTY_OFFICER, division_id="460106"
    )
    workflow.task_transfer_accept(task=TracingTask.objects.get(pk=task.pk), actor=receiver)
    # Now the task is outside bob's village: reads are 404, a write explains why instead of a bare 404.
    assert bob.get(url(task, "attempts")).status_code == 404
    response = bob.post(url(task, "attempts"), attempt(version=seen), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "transferred" and "人和坊" in response.json()["detail"]


def test_edit_and_delete_after_submission_answer_409(bob, task):
    def post(route, make):
        response = bob.post(url(task, route), make(version=version(task)), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    post("attempts", attempt)
    post("radius", radius)
    created = post("trajectory", entry)
    post("contacts", contact)
    post("tests", test_result)
    response = bob.post(url(task, "submit"), {"version": version(task)}, format="json")
    assert response.status_code == 200 and response.json()["task"]["status"] == S.SUBMITTED
    entry_url = f"{url(task, 'trajectory')}{created['id']}/"
    assert (
        bob.patch(entry_url, {"version": version(task), "place_name": "改"}, format="json").status_code == 409
    )
    response = bob.delete(f"{entry_url}?version={version(task)}")
    assert response.status_code == 409 and response.json()["code"] == "submitted"
    assert TrajectoryEntry.objects.get(pk=created["id"]).deleted_at is None


def test_edit_and_delete_through_the_api(bob, task):
    created = bob.post(url(task, "trajectory"), entry(version=task.version), format="json").json()
    entry_url = f"{url(task, 'trajectory')}{created['id']}/"
    response = bob.patch(
        entry_url,
        {"version": version(task), "revision": 1, "seat": "12A", "idempotency_key": key()},
        format="json",
    )
    assert (
        response.status_code == 200 and response.json()["seat"] == "12A" and response.json()["revision"] == 2
    )
    stale = bob.patch(entry_url, {"version": version(task), "revision": 1, "seat": "3C"}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "entry_changed"
    assert bob.delete(f"{entry_url}?version={version(task)}").status_code == 200
    assert bob.get(url(task, "trajectory")).json()["results"] == []
    assert len(bob.get(url(task, "trajectory") + "?deleted=1").json()["results"]) == 1


# --- completeness and the whole journey -----------------------------------------------------------------------


def test_submit_says_what_is_missing(bob, task):
    readiness = bob.get(url(task, "submit")).json()
    assert readiness["ready"] is False
    assert set(readiness["missing"]) == {"attempts", "radius", "trajectory", "tests", "contacts"}
    response = bob.post(url(task, "submit"), {"version": task.version}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"attempts", "radius", "trajectory", "tests", "contacts"}


def test_the_whole_journey_through_the_api(bob, task):
    for route, make in WRITES.items():
        response = bob.post(url(task, route), make(version=version(task)), format="json")
        assert response.status_code == 201, (route, response.json())
    response = bob.post(url(task, "trajectory/traced"), {"version": version(task)}, format="json")
    assert response.status_code == 200 and response.json()["task"]["status"] == S.TRACED
    response = bob.post(
        url(task, "submit"), {"version": version(task), "idempotency_key": key()}, format="json"
    )
    assert response.status_code == 200 and response.json()["task"]["status"] == S.SUBMITTED
    everything = bob.get(url(task, "fieldwork")).json()
    assert everything["task"]["editable"] is False
    assert [len(everything[k]) for k in ("attempts", "radius", "trajectory", "contacts", "tests")] == [
        1,
        1,
        1,
        1,
        1,
    ]
    assert everything["missing"] == {}


def test_a_resent_submit_is_not_a_conflict(bob, task):
    for route, make in WRITES.items():
        bob.post(url(task, route), make(version=version(task)), format="json")
    data = {"version": version(task), "idempotency_key": key()}
    assert bob.post(url(task, "submit"), data, format="json").status_code == 200
    again = bob.post(url(task, "submit"), data, format="json")
    assert again.status_code == 200 and again.json()["created"] is False


# --- reading, masking ---------------------------------------------------------------------------------------


def test_roles_that_see_masked_data_get_contacts_masked(api_client, task, field_staff, commander):
    api_client.force_authenticate(field_staff)
    api_client.post(
        url(task, "contacts"), contact(version=task.version, name="李四", phone="13907551234"), format="json"
    )
    api_client.force_authenticate(commander)
    row = api_client.get(url(task, "contacts")).json()["results"][0]
    assert row["name"] == "李*" and row["phone"] == "139****1234"
    api_client.force_authenticate(field_staff)
    row = api_client.get(url(task, "contacts")).json()["results"][0]
    assert (
        row["name"] == "李四"
        and row["phone"] == "13907551234"
        and row["lead"] == CloseContact.objects.get().lead_id
    )


def test_my_tasks_as_json_are_sorted_by_the_nearest_deadline(bob, field_staff):
    later = dispatched_task(field_staff)
    sooner = dispatched_task(field_staff)
    TracingTask.objects.filter(pk=later.pk).update(
        radius_due=sooner.radius_due.replace(year=sooner.radius_due.year + 1)
    )
    rows = bob.get("/api/v1/field/tasks/").json()["results"]
    assert [r["id"] for r in rows] == [sooner.pk, later.pk]
    assert rows[0]["next_clock"] == "radius" and rows[0]["mine"] is True


def test_the_list_of_my_tasks_is_for_field_roles(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    assert api_client.get("/api/v1/field/tasks/").status_code == 403


def test_an_invalid_hk_macao_permit_is_a_400_naming_id_number_with_the_reason(bob, task):
    response = bob.post(
        url(task, "contacts"),
        contact(version=task.version, id_type="hk_macao_permit", id_number="12345678"),
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"id_number"}
    assert "H12345678" in errors["id_number"][0]  # the reason gives the form of the number
    assert not CloseContact.objects.exists()


def test_a_contact_shows_its_document_type_and_masks_the_number(api_client, task, field_staff, commander):
    api_client.force_authenticate(field_staff)
    response = api_client.post(
        url(task, "contacts"),
        contact(version=task.version, name="John", id_type="passport", id_number="E12345678"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["id_type"] == "passport" and response.json()["id_number"] == "E12345678"
    api_client.force_authenticate(commander)
    row = api_client.get(url(task, "contacts")).json()["results"][0]
    assert row["id_type"] == "passport" and row["id_number"] == "E123*5678"
