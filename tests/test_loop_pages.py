"""The loop between pages: the task page links to transfer, field, review and report; the transfer
picker searches the whole tree; the duty desk runs intake now; the task list exports a line list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks.models import Division
from tests.conftest import HOME_VILLAGE, OTHER_COUNTY
from tests.factories import TracingTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(hainan):
    return TracingTaskFactory(division_id=HOME_VILLAGE)


@pytest.mark.parametrize(
    "who, transfer, field",
    [
        ("duty_officer", True, False),
        ("team_leader", True, True),
        ("field_staff", True, True),
        ("commander", False, False),
        ("cdc_expert", False, False),
    ],
)
def test_the_task_page_shows_the_actions_of_the_role(request, client, task, who, transfer, field):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("task_detail", args=[task.pk])).content.decode()
    assert (reverse("task_transfer_page", args=[task.pk]) in page) is transfer
    assert (reverse("field_task", args=[task.pk]) in page) is field
    assert reverse("report_task", args=[task.pk]) in page


def test_the_transfer_picker_finds_a_division_of_another_county(client, field_staff, task):
    client.force_login(field_staff)
    page = client.get(reverse("task_transfer_page", args=[task.pk])).content.decode()
    assert reverse("division_pick") in page
    other = Division.objects.filter(code__startswith=OTHER_COUNTY).exclude(code=OTHER_COUNTY).first()
    assert other is not None
    for q in (other.code, other.name):
        rows = client.get(reverse("division_pick"), {"q": q}).json()["results"]
        assert {"code": other.code, "name": other.name, "level": other.level} in rows
        assert all(set(row) == {"code", "name", "level"} for row in rows)
    assert client.get(reverse("division_pick")).json() == {"results": []}


def test_the_picker_is_for_roles_that_transfer(client, commander):
    client.force_login(commander)
    assert client.get(reverse("division_pick"), {"q": "46"}).status_code == 403


def _messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_the_duty_officer_runs_intake_now(client, duty_officer):
    from tasks.leads_io import ingest_rows
    from tests.intake_helpers import lead

    ingest_rows([lead(), lead()], channel="api")
    client.force_login(duty_officer)
    assert b"intake-run-now" in client.get(reverse("intake")).content
    response = client.post(reverse("intake_run_now"))
    assert response.status_code == 302 and response["Location"] == reverse("intake")
    assert any(text.startswith("汇总完成：2 条线索") for text in _messages(response)), _messages(response)
    assert client.get(reverse("intake_run_now")).status_code == 405


def test_a_concurrent_run_is_reported(client, duty_officer):
    from django.db import connections

    from tasks import intake
    from tasks.leads_io import ingest_rows
    from tests.intake_helpers import lead

    ingest_rows([lead()], channel="api")
    client.force_login(duty_officer)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [intake.INTAKE_LOCK_KEY])
            response = client.post(reverse("intake_run_now"))
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert response.status_code == 302
    assert _messages(response) == ["另一轮汇总正在进行，请稍后再试。"]


def test_field_staff_may_not_run_intake(client, field_staff):
    client.force_login(field_staff)
    assert client.post(reverse("intake_run_now")).status_code == 403
