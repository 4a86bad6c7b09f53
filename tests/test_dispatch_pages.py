"""The dispatch pages (issue 4): resolve with a division picker, receipts, transfer inbox, notification
inbox, bulk re-assignment. Outside the territory: 404; wrong role: 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks.dispatch import dispatch_new_tasks
from tasks.models import Notification, TaskStatus, TracingTask, Transfer
from tasks.sweep import sweep
from tasks.workflow import task_transfer
from tests.conftest import HOME_COUNTY
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, make_task


@pytest.fixture
def dispatched(crew):
    now = timezone.now()
    task = make_task(batch_at=now - timedelta(minutes=3))
    dispatch_new_tasks(batch_id=task.batch_id, now=now - timedelta(minutes=2))
    task.refresh_from_db()
    return task


def test_the_duty_officer_resolves_a_queued_task_with_the_picker(client, crew):
    task = make_task(HOME_COUNTY, batch_at=timezone.now())
    dispatch_new_tasks(batch_id=task.batch_id)
    client.force_login(crew["alice"])
    page = client.get(reverse("task_resolve_page", args=[task.pk]))
    assert page.status_code == 200 and b"data-division-picker" in page.content
    response = client.post(reverse("task_resolve_page", args=[task.pk]), {"division_code": "460105001001"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED and task.division_id == "460105001001"


def test_a_bad_village_is_shown_as_an_error_and_changes_nothing(client, crew):
    task = make_task(HOME_COUNTY, batch_at=timezone.now())
    dispatch_new_tasks(batch_id=task.batch_id)
    client.force_login(crew["alice"])
    response = client.post(
        reverse("task_resolve_page", args=[task.pk]), {"division_code": "460105001"}, follow=True
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.NEW


def test_the_resolve_page_of_another_countys_task_does_not_exist(client, crew, outsider):
    task = make_task(HOME_COUNTY)
    client.force_login(outsider)
    assert client.get(reverse("task_resolve_page", args=[task.pk])).status_code == 404


def test_field_staff_cannot_open_the_resolve_page(client, crew):
    task = make_task(HOME_COUNTY)
    client.force_login(crew["bob"])
    assert client.get(reverse("task_resolve_page", args=[task.pk])).status_code == 403


def test_the_team_leader_sees_who_has_not_confirmed_receipt(client, crew, dispatched):
    client.force_login(crew["tina"])
    page = client.get(reverse("receipts"))
    assert page.status_code == 200 and f"T{dispatched.pk}".encode() in page.content
    client.force_login(crew["bob"])
    assert client.post(reverse("task_receive_page", args=[dispatched.pk])).status_code == 302
    dispatched.refresh_from_db()
    assert dispatched.status == TaskStatus.RECEIVED
    client.force_login(crew["tina"])
    assert f"T{dispatched.pk}<".encode() not in client.get(reverse("receipts")).content


def test_receipt_of_another_countys_task_is_404(client, dispatched, outsider):
    client.force_login(outsider)
    assert client.post(reverse("task_receive_page", args=[dispatched.pk])).status_code == 404


def test_the_transfer_pages_from_request_to_acceptance(client, crew, dispatched, outsider):
    client.force_login(crew["alice"])
    assert client.get(reverse("task_transfer_page", args=[dispatched.pk])).status_code == 200
    response = client.post(
        reverse("task_transfer_page", args=[dispatched.pk]),
        {"division_code": OTHER_COUNTY_VILLAGE, "reason": "人在龙华区"},
    )
    assert response.status_code == 302
    assert f"T{dispatched.pk}".encode() in client.get(reverse("transfer_inbox")).content  # outgoing
    client.force_login(outsider)
    inbox = client.get(reverse("transfer_inbox"))
    assert inbox.status_code == 200 and "人在龙华区".encode() in inbox.content
    assert client.post(reverse("transfer_accept_page", args=[dispatched.pk])).status_code == 302
    dispatched.refresh_from_db()
    assert dispatched.division_id == OTHER_COUNTY_VILLAGE
    assert Transfer.objects.get(task=dispatched).status == "accepted"


def test_the_sender_cannot_accept_its_own_transfer(client, crew, dispatched):
    task_transfer(task=dispatched, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    client.force_login(crew["alice"])
    assert client.post(reverse("transfer_accept_page", args=[dispatched.pk])).status_code == 404


def test_the_receiver_rejects_with_a_reason(client, crew, dispatched, outsider):
    task_transfer(task=dispatched, actor=crew["alice"], division_code=OTHER_COUNTY_VILLAGE, reason="x")
    client.force_login(outsider)
    client.post(reverse("transfer_reject_page", args=[dispatched.pk]), {"reason": "查无此人"})
    dispatched.refresh_from_db()
    assert dispatched.status == TaskStatus.DISPATCHED and dispatched.division_id == "460105001001"


def test_the_notification_inbox_shows_the_unread_count_and_marks_read(client, crew):
    start = timezone.now() - timedelta(hours=5)
    task = make_task(batch_at=start)
    dispatch_new_tasks(batch_id=task.batch_id, now=start)
    sweep()
    client.force_login(crew["tina"])
    page = client.get(reverse("notification_inbox"))
    assert page.status_code == 200 and b'data-testid="unread-count">1<' in page.content
    client.post(reverse("notifications_read"))
    assert not Notification.objects.filter(recipient=crew["tina"], read_at__isnull=True).exists()


def test_bulk_reassignment_page(client, crew):
    now = timezone.now()
    tasks = [make_task(batch_at=now) for _ in range(3)]
    dispatch_new_tasks(now=now)
    client.force_login(crew["tina"])
    page = client.get(reverse("bulk_assign"), {"unassigned": "", "status": "dispatched"})
    assert page.status_code == 200
    for t in tasks:
        assert f'value="{t.pk}"'.encode() in page.content
    response = client.post(
        reverse("bulk_assign"),
        {"task_ids": [t.pk for t in tasks], "assignee": crew["dan"].pk, "reason": "集中"},
    )
    assert response.status_code == 302
    assert set(
        TracingTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list("assignee", flat=True)
    ) == {crew["dan"].pk}


def test_the_unassigned_filter_of_the_bulk_page(client, crew, settings):
    settings.DISPATCH_ASSIGN_MODE = "leader"
    now = timezone.now()
    loose = make_task(batch_at=now)
    dispatch_new_tasks(batch_id=loose.batch_id, now=now)
    settings.DISPATCH_ASSIGN_MODE = "least_load"
    held = make_task(batch_at=now)
    dispatch_new_tasks(batch_id=held.batch_id, now=now)
    client.force_login(crew["tina"])
    content = client.get(reverse("bulk_assign"), {"unassigned": "1"}).content
    assert f'value="{loose.pk}"'.encode() in content and f'value="{held.pk}"'.encode() not in content


def test_field_staff_cannot_open_the_bulk_page(client, crew):
    client.force_login(crew["bob"])
    assert client.get(reverse("bulk_assign")).status_code == 403
