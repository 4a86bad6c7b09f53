"""The access log: reveal of masked fields, set-wise recording, the auditor's search and export."""

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasks.access_log import record_access
from tasks.models import AccessAction, AccessLog, Division, TracingTask
from tests.conftest import HOME_VILLAGE, OTHER_COUNTY
from tests.factories import PersonFactory, TracingTaskFactory, UserFactory

OTHER_COUNTY_VILLAGE = "460106001002"


@pytest.fixture
def task(hainan):
    return TracingTaskFactory(
        person=PersonFactory(id_number="460105199001011234", phone="13912341234"),
        address="海口市秀英区某路 1 号",
    )


def _reveal(client, task, **data):
    return client.post(
        reverse("task_reveal", kwargs={"pk": task.pk}), data, HTTP_USER_AGENT="pytest-browser/1.0"
    )


# ---- reveal -----------------------------------------------------------------------------------------


def test_reveal_returns_the_unmasked_values_and_logs_who_why_and_from_where(
    client, duty_officer, password, task
):
    client.login(username=duty_officer.username, password=password)
    response = _reveal(client, task, reason="核实身份后电话联系")
    assert response.status_code == 200
    html = response.content.decode()
    assert "460105199001011234" in html and "13912341234" in html and "某路 1 号" in html
    entry = AccessLog.objects.get(task_id=task.pk)
    assert entry.action == AccessAction.REVEAL and entry.reason == "核实身份后电话联系"
    assert entry.user == duty_officer and entry.username == "alice" and entry.person_id == task.person_id
    assert entry.ip == "127.0.0.1" and entry.user_agent == "pytest-browser/1.0"
    assert entry.fields == ["id_number", "phone", "address"] and entry.division_code == HOME_VILLAGE


def test_reveal_without_a_reason_is_refused_and_not_logged(client, duty_officer, password, task):
    client.login(username=duty_officer.username, password=password)
    assert _reveal(client, task, reason=" ").status_code == 400
    assert not AccessLog.objects.exists()


def test_a_role_that_works_with_masked_data_cannot_reveal(client, commander, password, task):
    client.login(username=commander.username, password=password)
    assert _reveal(client, task, reason="想看看").status_code == 403
    assert not AccessLog.objects.exists()


def test_reveal_outside_the_territory_is_not_found_and_not_logged(client, outsider, password, task):
    client.login(username=outsider.username, password=password)
    assert _reveal(client, task, reason="想看看").status_code == 404
    assert not AccessLog.objects.exists()


def test_the_reveal_api_answers_json_and_logs(api_client, field_staff, task):
    api_client.force_authenticate(field_staff)
    response = api_client.post(
        reverse("task-reveal", kwargs={"task_id": task.pk}),
        {"reason": "上门核查", "fields": ["phone"]},
        format="json",
    )
    assert response.status_code == 200 and response.json() == {"phone": "13912341234"}
    assert response["Cache-Control"] == "no-store"
    assert AccessLog.objects.get().fields == ["phone"]


def test_the_reveal_api_refuses_a_masked_role(api_client, commander, task):
    api_client.force_authenticate(commander)
    assert (
        api_client.post(
            reverse("task-reveal", kwargs={"task_id": task.pk}), {"reason": "x" * 5}, format="json"
        ).status_code
        == 403
    )


# ---- record_access ----------------------------------------------------------------------------------


def test_an_export_of_many_people_is_logged_in_one_insert(duty_officer, hainan):
    TracingTaskFactory.create_batch(30)
    queryset = TracingTask.objects.all()
    with CaptureQueriesContext(connection) as queries:
        count = record_access(
            duty_officer, action=AccessAction.EXPORT, objects=queryset, fields=["name", "phone"]
        )
    assert count == 30 and len(queries) == 1
    assert AccessLog.objects.filter(action="export", fields=["name", "phone"]).count() == 30
    assert set(AccessLog.objects.values_list("task_id", flat=True)) == set(
        queryset.values_list("id", flat=True)
    )


def test_a_list_of_rows_is_logged_in_one_insert(duty_officer, hainan):
    tasks = TracingTaskFactory.create_batch(5)
    with CaptureQueriesContext(connection) as queries:
        record_access(duty_officer, action=AccessAction.VIEW, objects=tasks)
    assert len(queries) == 1 and AccessLog.objects.count() == 5


def test_persons_are_logged_with_the_division_of_their_latest_task(duty_officer, hainan):
    task = TracingTaskFactory()
    record_access(duty_officer, action=AccessAction.REPORT, objects=[task.person])
    record_access(
        duty_officer, action=AccessAction.REPORT, objects=type(task.person).objects.filter(pk=task.person_id)
    )
    assert (
        list(AccessLog.objects.values_list("object_type", "person_id", "division_code"))
        == [("person", task.person_id, task.division_id)] * 2
    )


def test_the_access_log_is_append_only(duty_officer, hainan):
    record_access(duty_officer, action=AccessAction.VIEW, objects=[TracingTaskFactory()])
    for statement in (
        lambda: AccessLog.objects.update(reason="erased"),
        lambda: AccessLog.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    assert AccessLog.objects.count() == 1


# ---- audit pages ------------------------------------------------------------------------------------


@pytest.fixture
def entries(hainan):
    home = TracingTaskFactory()
    away = TracingTaskFactory(division=Division.objects.get(code=OTHER_COUNTY_VILLAGE))
    home_reader = UserFactory(role="duty_officer", division_id="460105")
    away_reader = UserFactory(role="duty_officer", division_id=OTHER_COUNTY)
    record_access(home_reader, action=AccessAction.VIEW, objects=[home])
    record_access(away_reader, action=AccessAction.VIEW, objects=[away])
    record_access(home_reader, action=AccessAction.REVEAL, objects=[home], reason="核实")
    return {"home": home, "away": away, "home_reader": home_reader, "away_reader": away_reader}


def test_the_auditor_sees_reads_in_its_territory_only(client, auditor, password, entries):
    client.login(username=auditor.username, password=password)
    rows = client.get(reverse("audit_log"), {"format": "json"}).json()["results"]
    assert {row["task_id"] for row in rows} == {entries["home"].pk}
    html = client.get(reverse("audit_log")).content.decode()
    assert entries["home_reader"].username in html and entries["away_reader"].username not in html


def test_the_audit_search_filters_by_person_action_account_and_date(client, auditor, password, entries):
    client.login(username=auditor.username, password=password)
    url = reverse("audit_log")

    def ids(**params):
        return [row["action"] for row in client.get(url, {"format": "json", **params}).json()["results"]]

    assert ids(person=entries["home"].person_id) == ["reveal", "view"]
    assert ids(action="reveal") == ["reveal"]
    assert ids(user=entries["home_reader"].username.upper()) == ["reveal", "view"]
    assert ids(task=entries["away"].pk) == []
    assert ids(date_from="2000-01-01", date_to="2000-01-02") == []


def test_the_audit_page_shows_the_change_history_too(client, auditor, password, hainan):
    from auditlog.context import set_actor

    task = TracingTaskFactory()
    with set_actor(auditor):
        task.priority = 1
        task.save()
    client.login(username=auditor.username, password=password)
    changes = client.get(reverse("audit_log"), {"format": "json", "task": task.pk}).json()["changes"]
    assert changes and changes[0]["object_id"] == str(task.pk)
    assert client.get(reverse("audit_log"), {"format": "json", "action": "change"}).json()["results"] == []


def test_only_auditors_and_administrators_open_the_audit_page(client, duty_officer, password, hainan):
    client.login(username=duty_officer.username, password=password)
    assert client.get(reverse("audit_log")).status_code == 403


def test_a_persons_access_history_exports_as_csv_and_the_export_is_logged(client, auditor, password, entries):
    person_id = entries["home"].person_id
    client.login(username=auditor.username, password=password)
    response = client.get(reverse("audit_person_export", kwargs={"person_id": person_id}))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 3  # header, view, reveal, and the export itself
    assert [row[3] for row in rows[1:]] == ["view", "reveal", "export"]
    export = AccessLog.objects.get(action="export", person_id=person_id)
    assert export.user == auditor and export.fields == ["access_history"]


def test_an_auditor_of_another_county_cannot_export_a_person_it_does_not_see(client, password, entries):
    other = UserFactory(role="auditor", division_id=OTHER_COUNTY)
    client.login(username=other.username, password=password)
    url = reverse("audit_person_export", kwargs={"person_id": entries["home"].person_id})
    assert client.get(url).status_code == 404
    assert not AccessLog.objects.filter(action="export").exists()


def test_reading_tasks_through_the_api_is_logged(api_client, duty_officer):
    from tasks.models import AccessLog
    from tests.factories import TracingTaskFactory

    task = TracingTaskFactory()
    api_client.force_authenticate(duty_officer)
    assert api_client.get(f"/api/v1/tasks/{task.id}/").status_code == 200
    assert api_client.get("/api/v1/tasks/").status_code == 200
    entries = AccessLog.objects.filter(user=duty_officer, task_id=task.id, action="view")
    assert entries.count() == 2
    assert all(entry.path.startswith("/api/v1/tasks/") for entry in entries)


def test_the_task_list_page_logs_the_rows_it_shows(client, duty_officer, password):
    from tasks.models import AccessLog
    from tests.factories import TracingTaskFactory

    task = TracingTaskFactory()
    client.login(username=duty_officer.username, password=password)
    assert client.get("/tasks/").status_code == 200
    assert AccessLog.objects.filter(user=duty_officer, task_id=task.id).exists()
