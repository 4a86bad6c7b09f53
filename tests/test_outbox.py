"""The outbox (tasks/outbox/): every outbound flow is registered on it, the beat jobs that send them
exist under the names the schedule uses, and the generic command runs every flow."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from tasks import outbox


def test_every_flow_is_registered_on_the_one_outbox():
    flows = outbox.flows()
    assert {"notifications", "notice_sms", "source_feedback"} <= set(flows)
    assert all(isinstance(flow, outbox.Flow) for flow in flows.values())


def test_every_beat_job_is_a_registered_celery_task():
    from tracing_center.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
    assert "tasks.outbox_deliver" in app.tasks


@pytest.mark.django_db
def test_the_outbox_command_runs_every_flow():
    out = StringIO()
    call_command("outbox_deliver", stdout=out)
    assert out.getvalue().splitlines() == [
        "checkin_sms: 0 handled.",
        "notice_sms: 0 handled.",
        "notifications: 0 handled.",
        "source_feedback: 0 handled.",
    ]


def test_backoff_doubles_up_to_an_hour():
    assert [outbox.backoff_minutes(n) for n in (1, 2, 3, 5, 6, 9)] == [2, 4, 8, 32, 60, 60]
