"""The overdue and unassigned filters of GET /api/v1/tasks/ (dispatch issue), at the clock's edges."""

import datetime as dt

import pytest
import time_machine

from tests.factories import TracingTaskFactory

DUE = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("offset", "overdue"), [(dt.timedelta(seconds=-1), False), (dt.timedelta(seconds=1), True)]
)
def test_overdue_radius_lists_tasks_past_their_radius_deadline(api_client, duty_officer, offset, overdue):
    task = TracingTaskFactory(status="dispatched", dispatched_at=DUE - dt.timedelta(hours=3), radius_due=DUE)
    TracingTaskFactory(
        status="dispatched",
        dispatched_at=DUE - dt.timedelta(hours=3),
        radius_due=DUE,
        radius_limited_at=DUE - dt.timedelta(hours=1),
    )
    api_client.force_authenticate(duty_officer)
    with time_machine.travel(DUE + offset, tick=False):
        ids = [row["id"] for row in api_client.get("/api/v1/tasks/", {"overdue": "radius"}).json()["results"]]
    assert ids == ([task.id] if overdue else [])


def test_an_unknown_clock_is_refused_naming_the_parameter(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    response = api_client.get("/api/v1/tasks/", {"overdue": "lunch"})
    assert response.status_code == 400
    assert "overdue" in response.json()["errors"]


def test_unassigned_lists_open_tasks_without_an_assignee(api_client, duty_officer, field_staff):
    waiting = TracingTaskFactory(status="new")
    TracingTaskFactory(status="dispatched", assignee=field_staff)
    api_client.force_authenticate(duty_officer)
    ids = [row["id"] for row in api_client.get("/api/v1/tasks/", {"unassigned": "true"}).json()["results"]]
    assert ids == [waiting.id]


def test_the_task_page_shows_a_bad_filter_instead_of_failing(client, duty_officer, password):
    client.login(username=duty_officer.username, password=password)
    response = client.get("/tasks/", {"overdue": "lunch"})
    assert response.status_code == 200
