"""Search in the top bar: exact, through the blind indexes, scoped to the territory, logged as a read."""

from __future__ import annotations

import pytest

from tasks.models import AccessLog
from tasks.validation import id_number_hash
from tasks.views.search import parse_query
from tests.conftest import HOME_VILLAGE
from tests.factories import PersonFactory, TracingTaskFactory

ID = "46010519900101123X"
OTHER_COUNTY_VILLAGE = "460106001002"


@pytest.fixture
def task(hainan):
    # person_key as the intake sets it for a person with a resident ID
    person = PersonFactory(
        name="王小明", phone="13912345678", id_number=ID, person_key="id:" + id_number_hash(ID)
    )
    return TracingTaskFactory(person=person, division_id=HOME_VILLAGE)


def test_it_reads_what_the_text_is():
    assert parse_query("T12") == parse_query("#12") == parse_query("12")
    assert parse_query("T12").kind == "task"
    assert parse_query("139 1234 5678").kind == "phone"
    assert parse_query("+8613912345678").value == "13912345678"
    assert parse_query(ID.lower()).kind == "id_number"
    assert parse_query(ID.lower()).value == ID
    assert parse_query("王小明").kind == "name"
    assert parse_query("  ") is None


@pytest.mark.parametrize("q", ["T{pk}", ID, ID.lower(), "139-1234-5678", "王小明"])
def test_it_finds_the_task_by_number_id_phone_or_name(client, duty_officer, password, task, q):
    client.login(username=duty_officer.username, password=password)
    response = client.get("/search/", {"q": q.format(pk=task.pk)})
    assert response.status_code == 200
    assert f'href="/tasks/{task.pk}/"' in response.content.decode()


def test_it_matches_exactly(client, duty_officer, password, task):
    client.login(username=duty_officer.username, password=password)
    for q in ["王小", "1391234567", ID[:-1] + "1"]:
        body = client.get("/search/", {"q": q}).content.decode()
        assert f"/tasks/{task.pk}/" not in body, q
        assert 'data-testid="search-empty"' in body


def test_an_outsider_finds_nothing_and_nothing_is_logged(client, outsider, password, task):
    client.login(username=outsider.username, password=password)
    body = client.get("/search/", {"q": ID}).content.decode()
    assert f"/tasks/{task.pk}/" not in body
    assert not AccessLog.objects.filter(task_id=task.pk).exists()


def test_a_search_that_shows_a_person_is_logged_as_a_read(client, duty_officer, password, task):
    client.login(username=duty_officer.username, password=password)
    client.get("/search/", {"q": "13912345678"})
    entry = AccessLog.objects.get(task_id=task.pk)
    assert (entry.user_id, entry.action, entry.person_id) == (duty_officer.pk, "view", task.person_id)


def test_the_field_team_is_led_to_its_field_task_page(client, field_staff, password, task):
    client.login(username=field_staff.username, password=password)
    results = client.get("/search/", {"q": ID}).content.decode().split('data-testid="search-kind"', 1)[1]
    assert f'href="/field/tasks/{task.pk}/"' in results


def test_a_masked_role_sees_the_person_masked(client, commander, password, task):
    client.login(username=commander.username, password=password)
    results = client.get("/search/", {"q": ID}).content.decode().split('data-testid="search-kind"', 1)[1]
    assert ID not in results and "13912345678" not in results
    assert "4601**********123X" in results


def test_it_is_never_a_server_error(client, duty_officer, password, hainan):
    client.login(username=duty_officer.username, password=password)
    for q in ["", "T99999999999", "'; drop table", "x" * 500, "\x00"]:
        assert client.get("/search/", {"q": q}).status_code in (200, 400)
