"""The field pages by kind (docs/worktypes.md, docs/field.md): a verification shows the verification
form and the contact attempts, a registration the registration form; the returnee registration
(POST /api/v1/tasks/{id}/registration/) stops the register clock, writes the history, starts
monitoring through tasks.hooks.registration_completed, and is idempotent like the other field forms."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks import hooks
from tasks.clocks import compute_next_alert_at
from tasks.fieldwork import FieldConflict, record_registration
from tasks.models import Registration, TaskKind, TaskTransition, TracingTask
from tests.conftest import HOME_VILLAGE
from tests.fieldwork_helpers import dispatched_task

pytestmark = pytest.mark.django_db


def registration_form(**extra) -> dict:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "arrived_at": (timezone.now() - timedelta(hours=3)).isoformat(),
        "arrived_from": "广东省广州市",
        "division_code": HOME_VILLAGE,
        "address": "秀华路9号",
        "health_state": "no_symptoms",
        "phone_confirmed": True,
        "note": "",
        **extra,
    }


@pytest.fixture
def completed():
    """The task ids and moments the registration hook was called with."""
    calls: list[tuple[list[int], object]] = []
    hooks.on_registration_completed("tests.completed", lambda *, task_ids, now: calls.append((task_ids, now)))
    yield calls
    hooks._registration_completed.pop("tests.completed", None)


@pytest.fixture
def bob(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    return client


def test_a_registration_stops_the_register_clock_records_the_history_and_starts_monitoring(
    field_staff, completed
):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    assert task.register_due is not None and task.next_alert_at is not None
    now = timezone.now()
    outcome = record_registration(
        task=task, actor=field_staff, data={**registration_form(), "version": task.version}, now=now
    )
    assert outcome.created
    task.refresh_from_db()
    assert task.registered_at == now
    assert task.status == "received"  # the first field record is the receipt; monitoring follows
    assert task.next_alert_at is None and compute_next_alert_at(task) is None  # no clock runs any more
    transition = TaskTransition.objects.filter(task=task, details__has_key="registration").get()
    assert (transition.actor, transition.at) == (field_staff, now)
    assert transition.details["registration"]["health_state"] == "no_symptoms"
    assert completed == [([task.pk], now)]


def test_a_resent_registration_answers_the_same_record_and_calls_the_hook_once(field_staff, completed):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    form = {**registration_form(), "version": task.version}
    first = record_registration(task=task, actor=field_staff, data=form)
    again = record_registration(task=task, actor=field_staff, data=form)
    assert (again.record.pk, again.created) == (first.record.pk, False)
    assert Registration.objects.count() == 1 and len(completed) == 1


def test_a_second_registration_and_a_task_of_another_kind_are_conflicts(field_staff, completed):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    record_registration(task=task, actor=field_staff, data={**registration_form(), "version": task.version})
    task.refresh_from_db()
    with pytest.raises(FieldConflict) as second:
        record_registration(
            task=task, actor=field_staff, data={**registration_form(), "version": task.version}
        )
    assert second.value.code == "registered"
    other = dispatched_task(field_staff, kind=TaskKind.VERIFICATION)
    with pytest.raises(FieldConflict) as wrong:
        record_registration(
            task=other, actor=field_staff, data={**registration_form(), "version": other.version}
        )
    assert wrong.value.code == "not_registration"
    assert len(completed) == 1


def test_the_registration_api_answers_201_then_200_and_names_bad_fields(api_client, field_staff, completed):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    api_client.force_authenticate(field_staff)
    url = reverse("task-registration", kwargs={"task_id": task.pk})
    bad = api_client.post(
        url,
        {
            **registration_form(arrived_from="", health_state="fever", phone_confirmed="maybe"),
            "version": task.version,
        },
        format="json",
    )
    assert bad.status_code == 400
    assert {"arrived_from", "note", "phone_confirmed"} <= set(bad.json()["errors"])
    form = {**registration_form(), "version": task.version}
    created = api_client.post(url, form, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["task"]["kind"] == "registration" and body["task"]["registered_at"]
    assert api_client.post(url, form, format="json").status_code == 200
    again = api_client.post(url, {**registration_form(), "version": body["task"]["version"]}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "registered")
    listed = api_client.get(url).json()["results"]
    assert [r["arrived_from"] for r in listed] == ["广东省广州市"]
    fieldwork = api_client.get(reverse("task-fieldwork", kwargs={"task_id": task.pk})).json()
    assert len(fieldwork["registrations"]) == 1


def test_the_registration_address_is_masked_for_a_masked_role(api_client, field_staff, commander):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    record_registration(task=task, actor=field_staff, data={**registration_form(), "version": task.version})
    api_client.force_authenticate(commander)
    (row,) = api_client.get(reverse("task-registration", kwargs={"task_id": task.pk})).json()["results"]
    assert row["address"] != "秀华路9号"


def test_the_field_page_of_a_verification_shows_its_form_and_attempts_only(bob, field_staff):
    task = dispatched_task(field_staff, kind=TaskKind.VERIFICATION)
    html = bob.get(reverse("field_task", args=[task.pk])).content.decode()
    assert 'data-testid="verification-form"' in html and 'data-testid="attempt-form"' in html
    for investigation_form in ("radius-form", "trajectory-form", "contact-form", "test-form", "submit-form"):
        assert f'data-testid="{investigation_form}"' not in html
    assert 'data-testid="registration-form"' not in html
    assert "核查" in html


def test_the_field_page_of_a_registration_shows_the_registration_form_then_the_record(bob, field_staff):
    task = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    html = bob.get(reverse("field_task", args=[task.pk])).content.decode()
    assert 'data-testid="registration-form"' in html and 'data-testid="attempt-form"' in html
    for other_form in ("verification-form", "radius-form", "trajectory-form", "submit-form"):
        assert f'data-testid="{other_form}"' not in html
    record_registration(task=task, actor=field_staff, data={**registration_form(), "version": task.version})
    html = bob.get(reverse("field_task", args=[task.pk])).content.decode()
    assert 'data-testid="registration-form"' not in html
    assert 'data-testid="registration-record"' in html and "广东省广州市" in html


def test_the_field_page_of_an_investigation_is_unchanged(bob, field_staff):
    task = dispatched_task(field_staff)
    html = bob.get(reverse("field_task", args=[task.pk])).content.decode()
    assert 'data-testid="radius-form"' in html and 'data-testid="submit-form"' in html
    assert 'data-testid="verification-form"' not in html and 'data-testid="registration-form"' not in html


def test_my_tasks_counts_down_to_the_clock_of_each_kind(bob, field_staff):
    verification = dispatched_task(field_staff, kind=TaskKind.VERIFICATION)
    registration = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    TracingTask.objects.filter(pk=verification.pk).update(verify_due=timezone.now() + timedelta(minutes=30))
    html = bob.get(reverse("field_tasks")).content.decode()
    ids = [int(x) for x in re.findall(r'data-testid="field-task" data-task="(\d+)"', html)]
    assert ids == [verification.pk, registration.pk]  # the nearer deadline first
    assert "核查截止" in html or "Verify by" not in html
