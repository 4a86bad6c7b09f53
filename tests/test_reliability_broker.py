"""No user-facing write fails because the Celery broker is down: every job enqueued after a commit goes
through tracing_center.enqueue, which logs and swallows a failed publish (the periodic jobs catch up)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from django.test import override_settings

from reports.models import UpstreamDelivery
from tests.review_fixtures import APPROVAL, reported_at, review  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = ("tasks", "reviews", "reports", "notices", "tracing_center")


def test_the_closed_port_really_refuses_a_publish(broker_down):
    from reports.tasks import push_delivery

    with pytest.raises(Exception):  # noqa: B017 - kombu raises OperationalError
        push_delivery.delay(1)


@pytest.mark.django_db(transaction=True)
def test_an_approval_answers_200_with_the_broker_down(api_client, review, cdc_expert, broker_down, caplog):  # noqa: F811
    with override_settings(UPSTREAM_ENDPOINTS=["http://127.0.0.1:9/nowhere"], UPSTREAM_SECRET="x"):
        api_client.force_login(cdc_expert)
        api_client.post(f"/api/v1/reviews/{review.pk}/claim/")
        response = api_client.post(
            f"/api/v1/reviews/{review.pk}/approve/", {"disposal": APPROVAL}, format="json"
        )
    assert response.status_code == 200, response.content[:500]
    review.task.refresh_from_db()
    assert review.task.status == "approved"
    delivery = UpstreamDelivery.objects.get()  # recorded: the resend job delivers it later
    assert delivery.status == "pending"
    assert "could not enqueue reports.push_delivery" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_sweep_job_finishes_with_the_broker_down(broker_down, caplog):
    from tasks import jobs_workflow

    result = SimpleNamespace(tasks=3, escalations=1, notifications=2, deliveries=2)
    with mock.patch.object(jobs_workflow, "sweep", return_value=result):
        answer = jobs_workflow.sweep_deadlines()
    # The clocks of the apps built on tasks (tasks.hooks.register_clock_sweep) add their own keys.
    assert {key: answer[key] for key in ("tasks", "escalations", "notifications")} == {
        "tasks": 3,
        "escalations": 1,
        "notifications": 2,
    }
    assert "could not enqueue tasks.deliver_notifications" in caplog.text


def _enqueue_calls() -> list[str]:
    """Every `.delay(` / `.apply_async(` call in the application code, as file:line."""
    found = []
    for folder in APP_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"delay", "apply_async", "send_task"}
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_enqueue_goes_through_the_helper():
    """A new `.delay()` elsewhere would raise out of its on_commit callback when the broker is down."""
    calls = _enqueue_calls()
    assert calls and all(call.startswith("tracing_center/enqueue.py:") for call in calls), calls
