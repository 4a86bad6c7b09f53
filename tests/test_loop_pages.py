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


def _export(client, user, **params):
    import csv
    import io

    client.force_login(user)
    response = client.get(reverse("task_export"), {"format": "csv", **params})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_export_is_masked_for_the_commander_and_logged(client, hainan, commander, duty_officer):
    from tasks.exports import safe_cell
    from tasks.masking import mask_id_number, mask_name, mask_phone
    from tasks.models import AccessLog
    from tests.factories import PersonFactory

    person = PersonFactory(name="张三丰", phone="13812345678")
    home = TracingTaskFactory(division_id=HOME_VILLAGE, person=person, address="=1+2 长流镇某路")
    other = TracingTaskFactory(
        division_id=Division.objects.filter(code__startswith=OTHER_COUNTY).first().code
    )

    officer_rows = _export(client, duty_officer)
    assert officer_rows[0][:3] == ["任务编号", "优先级", "姓名"]
    ids = {row[0] for row in officer_rows[1:]}
    assert f"T{home.pk}" in ids and f"T{other.pk}" not in ids
    mine = next(row for row in officer_rows if row[0] == f"T{home.pk}")
    assert mine[2:5] == [person.name, person.id_number, person.phone]
    assert mine[5] == safe_cell("=1+2 长流镇某路")
    assert AccessLog.objects.filter(user=duty_officer, action="export", task_id=home.pk).count() == 1
    assert not AccessLog.objects.filter(user=duty_officer, task_id=other.pk).exists()

    commander_rows = _export(client, commander)
    masked = next(row for row in commander_rows if row[0] == f"T{home.pk}")
    assert masked[2:5] == [mask_name(person.name), mask_id_number(person.id_number), mask_phone(person.phone)]
    assert person.phone not in "".join(",".join(row) for row in commander_rows)
    assert AccessLog.objects.filter(user=commander, action="export", task_id=home.pk).count() == 1


def test_the_export_keeps_the_filters_and_checks_its_format(client, hainan, duty_officer):
    from tasks.views import intake as views

    keep = TracingTaskFactory(division_id=HOME_VILLAGE, priority=1)
    drop = TracingTaskFactory(division_id=HOME_VILLAGE, priority=3)
    ids = {row[0] for row in _export(client, duty_officer, priority=1)[1:]}
    assert f"T{keep.pk}" in ids and f"T{drop.pk}" not in ids
    assert client.get(reverse("task_export"), {"format": "pdf"}).status_code == 400
    xlsx = client.get(reverse("task_export"), {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    page = client.get(reverse("task_list"), {"priority": 1}).content.decode()
    assert reverse("task_export") + "?priority=1&amp;format=csv" in page
    views.EXPORT_MAX_ROWS, saved = 1, views.EXPORT_MAX_ROWS
    try:
        response = client.get(reverse("task_export"), {"format": "csv"})
    finally:
        views.EXPORT_MAX_ROWS = saved
    assert response.status_code == 302


def test_a_field_account_exports_only_its_village(client, hainan, field_staff):
    from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP

    own = TracingTaskFactory(division_id=HOME_VILLAGE)
    other = TracingTaskFactory(division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    ids = {row[0] for row in _export(client, field_staff)[1:]}
    assert f"T{own.pk}" in ids and f"T{other.pk}" not in ids


def test_the_review_link_is_for_the_expert_only(client, hainan, cdc_expert, duty_officer):
    from reviews.models import Review

    task = TracingTaskFactory(division_id=HOME_VILLAGE)
    review = Review.objects.create(task=task)
    link = reverse("review_detail", args=[review.pk])
    client.force_login(cdc_expert)
    assert link in client.get(reverse("task_detail", args=[task.pk])).content.decode()
    assert client.get(link).status_code == 200
    client.force_login(duty_officer)
    assert link not in client.get(reverse("task_detail", args=[task.pk])).content.decode()
