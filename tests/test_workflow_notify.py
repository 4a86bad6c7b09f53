"""Assignments notify through the outbox: a bulk assignment queues the same SMS / e-mail deliveries as
the same assignments made one by one."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tasks import notify
from tasks.dispatch import dispatch_new_tasks
from tasks.models import Notification, NotificationDelivery
from tasks.workflow import task_assign, task_assign_bulk
from tests.workflow_fixtures import make_task


@pytest.fixture
def channels(settings):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "phone"},
        "email": {"BACKEND": "tasks.notify.LocMemBackend", "ADDRESS": "email"},
    }
    notify.outbox.clear()
    yield settings.NOTIFICATION_CHANNELS
    notify.outbox.clear()


def _deliveries(tasks) -> list[tuple]:
    return sorted(
        NotificationDelivery.objects.filter(notification__task__in=tasks).values_list(
            "notification__recipient__username", "notification__kind", "channel", "address", "status"
        )
    )


def test_a_bulk_assignment_to_a_user_with_a_phone_queues_the_same_deliveries_as_single_assignments(
    crew, channels
):
    dan = crew["dan"]
    dan.phone, dan.email = "13900000077", "dan@example.org"
    dan.save(update_fields=["phone", "email"])
    now = timezone.now()
    single = [make_task(batch_at=now) for _ in range(2)]
    bulk = [make_task(batch_at=now) for _ in range(3)]
    dispatch_new_tasks(now=now)
    # Start from tasks that are not dan's, with no notification yet.
    task_assign_bulk(
        task_ids=[t.pk for t in single + bulk], actor=crew["tina"], assignee=crew["bob"], now=now
    )
    Notification.objects.all().delete()

    for task in single:
        task_assign(task=task, actor=crew["tina"], assignee=dan, now=now)
    assert task_assign_bulk(task_ids=[t.pk for t in bulk], actor=crew["tina"], assignee=dan, now=now) == 3

    expected = [
        ("dan", "assigned", "email", "dan@example.org", "pending"),
        ("dan", "assigned", "sms", "13900000077", "pending"),
    ]
    assert _deliveries(single) == sorted(expected * 2)
    assert _deliveries(bulk) == sorted(expected * 3)
    assert notify.deliver_pending(now=now) == 10
    assert sorted(m.address for m in notify.outbox) == ["13900000077"] * 5 + ["dan@example.org"] * 5
