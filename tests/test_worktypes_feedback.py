"""The per-source feedback webhook (reports/feedback.py): recorded when a task ends, pushed signed,
retried with backoff, at least once, logged on the row."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from reports.feedback import feedback_send
from reports.models import SourceFeedback
from tasks.models import TaskKind
from tasks.worktypes import task_close, tasks_close_bulk
from tests.workflow_fixtures import linked_lead, make_task


@pytest.fixture
def configured(settings):
    settings.SOURCE_FEEDBACK_ENDPOINTS = {"big_data": "http://feedback.test/hook"}
    settings.UPSTREAM_SECRET = "shared-secret"
    settings.UPSTREAM_RETRY_BASE_SECONDS = 30


def _task_with_leads(external_id: str = "BD-1"):
    task = make_task(kind=TaskKind.VERIFICATION)
    now = timezone.now()
    big = linked_lead(task, source="big_data", external_id=external_id, priority=3, reported_at=now)
    linked_lead(task, source="hotline", priority=6, reported_at=now)
    return task, big


def test_feedback_is_recorded_when_a_task_ends_and_pushed_signed(crew, configured):
    task, big = _task_with_leads()
    now = timezone.now()
    task_close(task=task, actor=crew["alice"], outcome="false_hit", now=now)
    row = SourceFeedback.objects.get()  # only the configured source
    assert (row.lead_id, row.outcome, row.status) == (big.pk, "false_hit", "pending")
    sent = []

    def fake_post(url, body, signature):
        sent.append((url, body, signature))
        return 500 if len(sent) == 1 else 204

    with mock.patch("reports.feedback._post", side_effect=fake_post):
        feedback_send(now=now)
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
        assert row.next_attempt_at == now + timedelta(seconds=30)
        feedback_send(now=now + timedelta(seconds=29))  # not due yet
        assert len(sent) == 1
        feedback_send(now=now + timedelta(seconds=30))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)
    url, body, signature = sent[-1]
    assert url == "http://feedback.test/hook"
    assert signature == "sha256=" + hmac.new(b"shared-secret", body, hashlib.sha256).hexdigest()
    assert json.loads(body) == [
        {
            "lead_id": big.pk,
            "source": "big_data",
            "external_id": "BD-1",
            "task_id": task.pk,
            "kind": "verification",
            "outcome": "false_hit",
            "ended_at": row.ended_at.isoformat(),
        }
    ]


def test_a_bulk_close_records_feedback_in_one_set(crew, configured):
    tasks = [_task_with_leads(f"BD-{n}")[0] for n in range(3)]
    tasks_close_bulk(task_ids=[t.pk for t in tasks], actor=crew["alice"], outcome="false_hit")
    assert SourceFeedback.objects.count() == 3


def test_nothing_is_recorded_without_endpoints(crew, settings):
    settings.SOURCE_FEEDBACK_ENDPOINTS = {}
    task, _big = _task_with_leads()
    task_close(task=task, actor=crew["alice"], outcome="no_risk")
    assert not SourceFeedback.objects.exists()
