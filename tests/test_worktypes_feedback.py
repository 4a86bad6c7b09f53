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


def test_feedback_is_a_flow_of_the_outbox_with_its_late_cut_off(crew, configured, settings):
    from tasks import outbox

    assert outbox.get_flow("source_feedback").model is SourceFeedback
    settings.SOURCE_FEEDBACK_LATE_CUTOFF_MINUTES = 60
    now = timezone.now()
    task, _big = _task_with_leads()
    task_close(task=task, actor=crew["alice"], outcome="false_hit", now=now)
    row = SourceFeedback.objects.get()
    with mock.patch("reports.feedback._post", return_value=503):
        outbox.deliver_pending("source_feedback", now=now + timedelta(minutes=59, seconds=59))
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
            "pending",
            1,
            503,
            "HTTP 503",
        )
    with mock.patch("reports.feedback._post", return_value=204) as post:
        # Due again (the retry comes 30 s later) and past the cut-off: dropped, not sent.
        outbox.deliver_pending("source_feedback", now=now + timedelta(minutes=61))
    assert not post.called
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("failed", "too late: not sent")


def test_feedback_to_an_endpoint_no_longer_configured_is_not_sent(crew, configured, settings):
    now = timezone.now()
    task, _big = _task_with_leads()
    task_close(task=task, actor=crew["alice"], outcome="no_risk", now=now)
    settings.SOURCE_FEEDBACK_ENDPOINTS = {"big_data": "http://elsewhere.test/hook"}
    with mock.patch("reports.feedback._post", return_value=204) as post:
        feedback_send(now=now)
    assert not post.called
    assert SourceFeedback.objects.get().status == "failed"


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_post_each_row_once(crew, configured):
    import threading

    from django.db import connection

    now = timezone.now()
    tasks = [_task_with_leads(f"BD-{n}")[0] for n in range(6)]
    tasks_close_bulk(task_ids=[t.pk for t in tasks], actor=crew["alice"], outcome="false_hit", now=now)
    posted: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def fake_post(url, body, signature):
        with lock:
            posted.extend(item["lead_id"] for item in json.loads(body))
        return 204

    def sender():
        try:
            barrier.wait()
            feedback_send(now=now, limit=3)
        finally:
            connection.close()

    with mock.patch("reports.feedback._post", side_effect=fake_post):
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(posted) == sorted(SourceFeedback.objects.values_list("lead_id", flat=True))
    assert set(SourceFeedback.objects.values_list("status", flat=True)) == {"delivered"}
