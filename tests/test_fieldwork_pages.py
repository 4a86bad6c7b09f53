"""Field pages (issue 5): my tasks, the task page, the service worker; Chinese first, CSP-safe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import TracingTask
from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
from tests.fieldwork_helpers import dispatched_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    return client


def assert_csp_safe(html: str) -> None:
    """No inline script (only JSON data blocks), no inline event handlers, no style attributes."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"


def test_my_tasks_lists_the_village_tasks_nearest_deadline_first(bob, field_staff):
    later = dispatched_task(field_staff)
    sooner = dispatched_task(field_staff)
    TracingTask.objects.filter(pk=later.pk).update(radius_due=timezone.now() + timedelta(hours=2, minutes=30))
    TracingTask.objects.filter(pk=sooner.pk).update(radius_due=timezone.now() - timedelta(minutes=5))
    elsewhere = dispatched_task(division=OTHER_VILLAGE_SAME_TOWNSHIP)
    html = bob.get("/field/").content.decode()
    ids = [int(x) for x in re.findall(r'data-testid="field-task" data-task="(\d+)"', html)]
    assert ids == [sooner.pk, later.pk] and elsewhere.pk not in ids
    assert "我的任务" in html
    assert re.search(r'class="countdown breach" data-due="[^"]+">[^<]+<', html)  # the overdue one says so
    assert f"/field/tasks/{sooner.pk}/" in html
    assert_csp_safe(html)


def test_my_tasks_has_a_clear_empty_state(bob):
    html = bob.get("/field/").content.decode()
    assert 'data-testid="empty-state"' in html
    assert 'data-testid="refresh"' in html


def test_my_tasks_is_for_field_roles(client, duty_officer, password):
    client.login(username=duty_officer.username, password=password)
    assert client.get("/field/").status_code == 403


def test_the_task_page_shows_the_person_leads_and_forms(bob, field_staff):
    task = dispatched_task(field_staff)
    task.person.phone = "13912345678"
    task.person.save()
    html = bob.get(f"/field/tasks/{task.pk}/").content.decode()
    assert 'href="tel:13912345678"' in html  # the assignee can call
    for form in (
        "attempt-form",
        "radius-form",
        "trajectory-form",
        "contact-form",
        "test-form",
        "submit-form",
    ):
        assert f'data-testid="{form}"' in html
    assert f'"/api/v1/tasks/{task.pk}/trajectory/"' in html or f"/api/v1/tasks/{task.pk}/trajectory/" in html
    assert_csp_safe(html)


def test_a_colleague_who_is_not_the_assignee_gets_no_call_link(client, field_staff, password, hainan):
    from tasks.models import Role
    from tests.factories import UserFactory

    task = dispatched_task(field_staff)
    task.person.phone = "13912345678"
    task.person.save()
    colleague = UserFactory(role=Role.FIELD_STAFF, division_id=task.division_id)
    client.login(username=colleague.username, password=password)
    html = client.get(f"/field/tasks/{task.pk}/").content.decode()
    assert "tel:" not in html and "13912345678" in html


def test_the_task_page_of_another_village_does_not_exist(bob, hainan):
    task = dispatched_task(division=OTHER_VILLAGE_SAME_TOWNSHIP)
    assert bob.get(f"/field/tasks/{task.pk}/").status_code == 404


def test_the_service_worker_is_served_for_the_field_scope(client, db):
    response = client.get("/field/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/field/"
    body = response.content.decode()
    assert "/static/field/app.js" in body and "/field/offline/" in body and "tc-field-shell-" in body


def test_the_offline_page_needs_no_login(client, db):
    assert client.get("/field/offline/").status_code == 200


def test_opening_the_task_page_is_recorded_in_the_access_log(bob, field_staff):
    from tasks.models import AccessLog

    task = dispatched_task(field_staff)
    assert bob.get(f"/field/tasks/{task.pk}/").status_code == 200
    assert AccessLog.objects.filter(task_id=task.pk, user_id=field_staff.pk, action="view").exists()


def test_the_close_contact_form_asks_which_document_before_the_number(bob, field_staff):
    from tasks import fieldwork
    from tests.fieldwork_helpers import contact

    task = dispatched_task(field_staff)
    fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=task.version, id_type="hk_macao_permit", id_number="H12345678"),
    )
    html = bob.get(f"/field/tasks/{task.pk}/").content.decode()
    form = html[html.index('data-testid="contact-form"') :]
    form = form[: form.index("</form>")]
    assert form.index('name="id_type"') < form.index('name="id_number"')
    for label in (
        "居民身份证",
        "护照",
        "港澳居民来往内地通行证",
        "台湾居民来往大陆通行证",
        "外国人永久居留身份证",
        "其他证件",
    ):
        assert f">{label}</option>" in form
    assert '<option value="resident_id" selected>' in form
    number = re.search(r'<input id="cc-id" [^>]*>', form).group(0)
    assert 'maxlength="30"' in number and 'inputmode="numeric"' not in number
    listed = html[html.index('data-testid="contact-document"') :]
    assert listed.startswith('data-testid="contact-document">港澳居民来往内地通行证 H12345678<')
    assert_csp_safe(html)
