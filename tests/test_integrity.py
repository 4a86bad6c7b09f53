"""The links declared without a database constraint (tasks/integrity.py) are checked in sets."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tasks.integrity import find_orphans, unconstrained_links
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


def test_it_knows_the_links_of_the_bulk_write_path():
    names = {f"{model._meta.label}.{field.name}" for model, field in unconstrained_links()}
    assert {
        "tasks.Lead.division",
        "tasks.Lead.current_division",
        "tasks.LeadLink.lead",
        "tasks.LeadLink.batch",
        "tasks.LeadLink.task",
        "tasks.PendingLead.lead",
        "tasks.TracingTask.person",
        "tasks.TracingTask.division",
        "tasks.TracingTask.batch",
        "tasks.TracingTask.team",
        "tasks.TracingTask.subunit",
        "tasks.TracingTask.assignee",
        "tasks.TracingTask.source_task",
        "tasks.TracingTask.merged_into",
        "tasks.TaskTransition.actor",
        "tasks.TaskTransition.task",
        "tasks.Escalation.task",
        "tasks.Escalation.division",
        "tasks.Notification.recipient",
        "tasks.Notification.task",
        "tasks.Notification.escalation",
    } <= names


def test_a_consistent_database_passes(hainan, capsys):
    make_task()
    assert find_orphans() == []
    call_command("check_integrity")
    assert "unconstrained links resolve" in capsys.readouterr().out


def test_a_task_pointing_to_a_missing_division_and_batch_is_reported(hainan):
    task = make_task()
    with connection.cursor() as cursor:
        # What a faulty hand-written statement could do now that no constraint refuses it.
        cursor.execute(
            "UPDATE tasks_tracingtask SET division_id = '469999999999', batch_id = -1 WHERE id = %s",
            [task.pk],
        )
    found = {o.link: o for o in find_orphans()}
    assert set(found) == {"tasks.TracingTask.division", "tasks.TracingTask.batch"}
    assert found["tasks.TracingTask.division"].count == 1 and found["tasks.TracingTask.division"].sample == [
        task.pk
    ]
    with pytest.raises(CommandError, match="2 links point to missing rows"):
        call_command("check_integrity")


def test_the_check_runs_nightly():
    from tracing_center.celery import app

    assert app.conf.beat_schedule["check-integrity"]["task"] == "tasks.check_integrity"


def test_a_lead_neither_pending_nor_linked_or_both_is_reported(hainan):
    from tasks.models import Lead, LeadLink, PendingLead

    task = make_task()
    lost = Lead.objects.create(
        source="hotline", reported_at=task.created_at, priority=6, division_id=task.division_id
    )
    twice = Lead.objects.create(
        source="hotline", reported_at=task.created_at, priority=6, division_id=task.division_id
    )
    assert set(PendingLead.objects.values_list("lead_id", flat=True)) >= {
        lost.pk,
        twice.pk,
    }  # the insert trigger
    PendingLead.objects.filter(lead=lost).delete()
    LeadLink.objects.create(lead=twice, task=task)
    found = {o.link: o for o in find_orphans()}
    assert found["tasks.Lead: neither pending nor linked"].sample == [lost.pk]
    assert found["tasks.Lead: both pending and linked"].sample == [twice.pk]
