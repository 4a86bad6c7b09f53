"""Scope entries of the issue-4 routes for tests/test_scope_routes.py. That module adds them with

    from tests.scope_routes_workflow import workflow_routes
    ROUTES.update(workflow_routes(Detail, ListOf, NoObject))

(the dataclasses are passed in to keep the import one-way). Every object made here lies in the other
village of the field account's township, so the field account must get 404 or not see it.
"""

from __future__ import annotations

from datetime import timedelta


def other_village_task():
    from django.utils import timezone

    from tasks.dispatch import dispatch_new_tasks
    from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
    from tests.factories import IntakeBatchFactory, TracingTaskFactory

    now = timezone.now()
    task = TracingTaskFactory(
        division_id=OTHER_VILLAGE_SAME_TOWNSHIP, batch=IntakeBatchFactory(started_at=now)
    )
    dispatch_new_tasks(batch_id=task.batch_id, now=now)
    task.refresh_from_db()
    return task


def other_village_transfer():
    from tasks.models import Role
    from tasks.workflow import task_transfer
    from tests.factories import UserFactory

    task = other_village_task()
    sender = UserFactory(role=Role.DUTY_OFFICER, division_id="460105")
    return task_transfer(task=task, actor=sender, division_code="460106", reason="scope test")


def other_village_escalation():
    from django.utils import timezone

    from tasks.models import Escalation
    from tasks.sweep import sweep

    task = other_village_task()
    sweep(now=timezone.now() + timedelta(hours=4))
    return Escalation.objects.filter(task=task).first()


def someone_elses_notification():
    from tasks.models import Notification, Role
    from tests.factories import UserFactory

    other = UserFactory(role=Role.FIELD_STAFF, division_id="460105001002")
    return Notification.objects.create(recipient=other, kind=Notification.Kind.ASSIGNED)


def workflow_routes(Detail, ListOf, NoObject) -> dict:
    task_kwargs = lambda t: {"task_id": t.pk}  # noqa: E731
    return {
        # API actions (POST): another village's task does not exist for the field account.
        "task-assign": Detail(other_village_task, kwargs=task_kwargs, method="post"),
        "task-receive": Detail(other_village_task, kwargs=task_kwargs, method="post"),
        "task-resolve": Detail(other_village_task, kwargs=task_kwargs, method="post"),
        "task-transfer": Detail(other_village_task, kwargs=task_kwargs, method="post"),
        "task-transfer-accept": Detail(
            lambda: other_village_transfer().task, kwargs=task_kwargs, method="post"
        ),
        "task-transfer-reject": Detail(
            lambda: other_village_transfer().task, kwargs=task_kwargs, method="post"
        ),
        "task-bulk-assign": NoObject(),  # ids outside the territory are answered "not_found" (tests/test_workflow_api.py)
        "escalation-list": ListOf(
            other_village_escalation, key=lambda row: row["id"], value=lambda e: e.pk, own=lambda: None
        ),
        "escalation-detail": Detail(other_village_escalation, kwargs=lambda e: {"pk": e.pk}),
        "transfer-list": ListOf(
            other_village_transfer, key=lambda row: row["id"], value=lambda t: t.pk, own=lambda: None
        ),
        "transfer-detail": Detail(other_village_transfer, kwargs=lambda t: {"pk": t.pk}),
        "notification-list": ListOf(
            someone_elses_notification, key=lambda row: row["id"], value=lambda n: n.pk, own=lambda: None
        ),
        "notification-detail": Detail(someone_elses_notification, kwargs=lambda n: {"pk": n.pk}),
        "notification-read": NoObject(),
        "notification-unread-count": NoObject(),
        # Pages.
        "task_resolve_page": NoObject(),  # duty desk only: a field account gets 403 before any lookup
        "task_receive_page": Detail(other_village_task, kwargs=task_kwargs, method="post"),
        "task_transfer_page": Detail(other_village_task, kwargs=task_kwargs),
        "transfer_accept_page": NoObject(),  # duty desk only (403), then the receiver's scope (404)
        "transfer_reject_page": NoObject(),
        "receipts": NoObject(),
        "transfer_inbox": NoObject(),
        "bulk_assign": NoObject(),
        "notification_inbox": NoObject(),
        "notifications_read": NoObject(),
    }
