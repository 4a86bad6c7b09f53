"""Automatic dispatch tells each assignee what came to them: one "assigned" notification per assignee
and dispatch, not per task (tasks.notify.assigned_digest_ctes), written in the statement that assigns,
with its SMS/e-mail delivery rows; the inbox links it to the task or to "my tasks"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from tasks import dispatch
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Notification, NotificationDelivery, TaskStatus
from tasks.notify import render
from tasks.workflow import task_dispatch
from tests.conftest import HOME_COUNTY
from tests.intake_helpers import lead
from tests.workflow_fixtures import T0, make_task

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(minutes=3)


def send(*rows) -> None:
    result = ingest_rows(list(rows), channel="api")
    assert result.rejected == [], result.rejected[0].errors


def assigned() -> dict[int, dict]:
    return {
        n.recipient_id: n
        for n in Notification.objects.filter(kind=Notification.Kind.ASSIGNED).order_by("recipient_id")
    }


def test_each_assignee_hears_once_of_all_the_tasks_a_batch_gave_them(crew):
    send(*(lead() for _ in range(5)), lead(division_code=HOME_COUNTY))
    batch = intake_run(now=NOW)
    assert batch.dispatched == 5
    notes = assigned()
    assert set(notes) == {crew["bob"].pk, crew["dan"].pk}
    for uid, note in notes.items():
        mine = set(batch.tasks.filter(assignee_id=uid).values_list("id", flat=True))
        assert note.data["count"] == len(mine) and set(note.data["tasks"]) == mine
        assert note.created_at == NOW and note.read_at is None
        assert note.task_id is None  # several tasks: the digest links "my tasks"
    with translation.override("zh-hans"):
        subject, body = render(notes[crew["bob"].pk])
    count = notes[crew["bob"].pk].data["count"]
    assert subject == f"{count} 个任务已指派给您"
    assert all(f"T{task_id}" in body for task_id in notes[crew["bob"].pk].data["tasks"])


def test_the_separate_dispatch_step_notifies_like_the_batch(crew):
    tasks = [make_task(status=TaskStatus.NEW) for _ in range(3)]
    done = dispatch.dispatch_new_tasks(now=NOW)
    assert done == 3
    notes = assigned()
    assert sum(n.data["count"] for n in notes.values()) == 3
    assert {t for n in notes.values() for t in n.data["tasks"]} == {t.pk for t in tasks}


def test_one_task_is_linked_from_its_notification(crew, client):
    task = make_task(status=TaskStatus.NEW)
    task_dispatch(task=task, now=NOW)
    task.refresh_from_db()
    note = Notification.objects.get(kind=Notification.Kind.ASSIGNED)
    assert (note.recipient_id, note.task_id, note.data["count"]) == (task.assignee_id, task.pk, 1)
    with translation.override("zh-hans"):
        assert render(note)[0] == f"任务T{task.pk}已指派给您"
    client.force_login(task.assignee)
    page = client.get(reverse("notification_inbox")).content.decode()
    assert reverse("task_detail", args=[task.pk]) in page


def test_a_digest_links_my_tasks_in_the_inbox(crew, client):
    send(lead(), lead(), lead(), lead())
    intake_run(now=NOW)
    client.force_login(crew["bob"])
    page = client.get(reverse("notification_inbox")).content.decode()
    assert 'data-testid="notification-tasks"' in page and reverse("field_tasks") in page


def test_in_leader_mode_nobody_is_assigned_and_nobody_is_told(crew, settings):
    settings.DISPATCH_ASSIGN_MODE = "leader"
    send(lead(), lead())
    intake_run(now=NOW)
    assert not Notification.objects.filter(kind=Notification.Kind.ASSIGNED).exists()


def test_a_channel_that_carries_assignments_gets_one_delivery_per_assignee(crew, settings):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "phone", "KINDS": ["assigned"]}
    }
    for name in ("bob", "dan"):
        crew[name].phone = "1380013800" + str(crew[name].pk % 10)
        crew[name].save(update_fields=["phone"])
    send(*(lead() for _ in range(6)))
    intake_run(now=NOW)
    deliveries = NotificationDelivery.objects.filter(notification__kind=Notification.Kind.ASSIGNED)
    assert sorted(d.notification.recipient_id for d in deliveries) == sorted([crew["bob"].pk, crew["dan"].pk])
    assert all(d.status == "pending" and d.channel == "sms" for d in deliveries)


def test_an_accepted_transfer_sends_its_own_notice_not_an_assignment(crew):
    # The transfer flow notifies "transferred to you" itself (tests/test_workflow_transfer*.py).
    task = make_task(status=TaskStatus.NEW)
    dispatch.dispatch_where(
        "t.id = %(task_id)s",
        {"task_id": task.pk},
        now=NOW,
        from_statuses=[TaskStatus.NEW],
        notify_assignees=False,
    )
    assert not Notification.objects.filter(kind=Notification.Kind.ASSIGNED).exists()
