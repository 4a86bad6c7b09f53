"""Retention end to end: a lead becomes a task, the task is closed through the API, and the purge
anonymises the person one second after the retention period — not one second before."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Lead, Person, TaskKind, TracingTask
from tasks.retention import purge_personal_data
from tests.intake_helpers import lead

LEAD_AT = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(480))


@pytest.mark.parametrize("end", ["close", "cancel", "merge"])
def test_a_task_goes_from_lead_to_end_to_purge(api_client, crew, settings, end):
    with time_machine.travel(LEAD_AT, tick=False):
        result = ingest_rows([lead(source="big_data", name="王五", phone="13800001111")], channel="api")
        assert result.accepted == 1
        intake_run(now=LEAD_AT)
    task = TracingTask.objects.get()
    assert task.kind == TaskKind.VERIFICATION
    ended_at = LEAD_AT + timedelta(hours=2)
    api_client.force_authenticate(crew["alice"])
    with time_machine.travel(ended_at, tick=False):
        if end == "close":
            response = api_client.post(
                f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"}, format="json"
            )
        elif end == "cancel":
            response = api_client.post(f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "重复"}, format="json")
        else:
            # The same person entered twice (another phone): merged, then the kept task is closed.
            ingest_rows([lead(source="hotline", name="王五", phone="13800002222")], channel="api")
            intake_run(now=ended_at)
            other = TracingTask.objects.exclude(pk=task.pk).get()
            response = api_client.post(
                "/api/v1/tasks/merge/",
                {"keep": task.pk, "merge": other.pk, "reason": "同一人"},
                format="json",
            )
            assert response.status_code == 200, response.json()
            response = api_client.post(
                f"/api/v1/tasks/{task.pk}/close/", {"outcome": "no_risk"}, format="json"
            )
    assert response.status_code == 200, response.json()
    cutoff_edge = ended_at + timedelta(days=settings.RETENTION_DAYS)
    run = purge_personal_data(now=cutoff_edge - timedelta(seconds=1))
    assert run.persons == 0
    assert Person.objects.get(pk=task.person_id).name == "王五"
    run = purge_personal_data(now=cutoff_edge + timedelta(seconds=1))
    assert run.persons >= 1
    person = Person.objects.get(pk=task.person_id)
    assert (person.name, person.phone, person.phone_hash) == ("", "", "")
    assert set(Lead.objects.filter(link__task=task).values_list("name", flat=True)) == {""}
