"""The workflow API (issue 4 §7): each action refused outside the caller's scope (404) or role (403),
illegal moves answered 409 naming from and to."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.dispatch import dispatch_new_tasks
from tasks.models import Escalation, TaskStatus, TracingTask
from tasks.sweep import sweep
from tests.conftest import HOME_COUNTY
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, make_task


@pytest.fixture
def task(crew):
    now = timezone.now()
    task = make_task(batch_at=now - timedelta(minutes=5))
    dispatch_new_tasks(batch_id=task.batch_id, now=now - timedelta(minutes=4))
    task.refresh_from_db()
    return task


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


ACTIONS = [
    ("assign", lambda c: {"assignee": c["dan"].pk}),
    ("receive", lambda c: {}),
    ("transfer", lambda c: {"division_code": OTHER_COUNTY_VILLAGE, "reason": "人在龙华区"}),
    ("transfer/accept", lambda c: {}),
    ("transfer/reject", lambda c: {"reason": "不是我们的"}),
    ("resolve", lambda c: {"division_code": "460105001001"}),
]


@pytest.mark.parametrize(("action", "body"), ACTIONS, ids=[a for a, _b in ACTIONS])
def test_a_user_of_another_county_gets_404_for_every_action(api_client, task, crew, outsider, action, body):
    response = as_user(api_client, outsider).post(
        f"/api/v1/tasks/{task.pk}/{action}/", body(crew), format="json"
    )
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPATCHED


def test_a_user_of_another_county_cannot_see_the_task(api_client, task, outsider):
    assert as_user(api_client, outsider).get(f"/api/v1/tasks/{task.pk}/").status_code == 404


def test_field_staff_cannot_assign(api_client, task, crew):
    response = as_user(api_client, crew["bob"]).post(
        f"/api/v1/tasks/{task.pk}/assign/", {"assignee": crew["dan"].pk}, format="json"
    )
    assert response.status_code == 403


def test_field_staff_cannot_bulk_assign(api_client, task, crew):
    response = as_user(api_client, crew["bob"]).post(
        "/api/v1/tasks/bulk-assign/", {"task_ids": [task.pk], "assignee": crew["dan"].pk}, format="json"
    )
    assert response.status_code == 403


def test_a_cdc_expert_cannot_receive(api_client, task, cdc_expert):
    assert as_user(api_client, cdc_expert).post(f"/api/v1/tasks/{task.pk}/receive/").status_code == 403


def test_the_team_leader_reassigns_a_task(api_client, task, crew):
    other = crew["dan"] if task.assignee != crew["dan"] else crew["bob"]
    response = as_user(api_client, crew["tina"]).post(
        f"/api/v1/tasks/{task.pk}/assign/", {"assignee": other.pk, "reason": "换人"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["assignee"] == other.pk
    last = task.transitions.last()
    assert last.reason == "换人" and last.details["assignment"]["to"]["assignee"] == other.pk


def test_assigning_to_someone_outside_the_village_is_refused(api_client, task, crew, hainan):
    from tests.factories import UserFactory

    elsewhere = UserFactory(role="field_staff", division_id="460105001002")
    response = as_user(api_client, crew["alice"]).post(
        f"/api/v1/tasks/{task.pk}/assign/", {"assignee": elsewhere.pk}, format="json"
    )
    assert response.status_code == 400
    assert "assignee" in response.json()["errors"]


def test_assigning_to_an_account_of_another_county_is_refused_as_unknown(api_client, task, crew, outsider):
    response = as_user(api_client, crew["alice"]).post(
        f"/api/v1/tasks/{task.pk}/assign/", {"assignee": outsider.pk}, format="json"
    )
    assert response.status_code == 400


def test_assigning_to_a_subunit_of_the_same_township_moves_the_task_there(api_client, task, crew):
    from tasks.models import Unit

    other = Unit.objects.get(kind="subunit", division_id="460105001002")
    response = as_user(api_client, crew["tina"]).post(
        f"/api/v1/tasks/{task.pk}/assign/", {"subunit": other.pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["division_code"] == "460105001002" and response.json()["assignee"] is None


def test_bulk_assignment_moves_all_selected_tasks_or_none(api_client, crew):
    now = timezone.now()
    tasks = [make_task(batch_at=now) for _ in range(3)]
    dispatch_new_tasks(now=now)
    ids = [t.pk for t in tasks]
    client = as_user(api_client, crew["tina"])
    response = client.post(
        "/api/v1/tasks/bulk-assign/", {"task_ids": ids, "assignee": crew["dan"].pk}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"assigned": 3}
    assert set(TracingTask.objects.filter(pk__in=ids).values_list("assignee", flat=True)) == {crew["dan"].pk}
    # One task not assignable (already submitted): nothing changes, and the answer names it.
    TracingTask.objects.filter(pk=ids[0]).update(status="submitted")
    response = client.post(
        "/api/v1/tasks/bulk-assign/", {"task_ids": ids, "assignee": crew["bob"].pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["problems"] == {"not_assignable": [ids[0]]}
    assert not TracingTask.objects.filter(pk__in=ids, assignee=crew["bob"]).exists()


def test_bulk_assignment_to_a_subunit_shares_by_load(api_client, crew):
    now = timezone.now()
    tasks = [make_task(batch_at=now) for _ in range(4)]
    dispatch_new_tasks(now=now)
    response = as_user(api_client, crew["tina"]).post(
        "/api/v1/tasks/bulk-assign/",
        {"task_ids": [t.pk for t in tasks], "subunit": crew["subunit"].pk},
        format="json",
    )
    assert response.status_code == 200, response.json()
    counts = sorted(
        TracingTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list("assignee", flat=True)
    )
    assert counts.count(crew["bob"].pk) == counts.count(crew["dan"].pk) == 2


def test_bulk_assignment_of_a_task_in_another_county_is_refused_as_not_found(api_client, crew, outsider):
    task = make_task(OTHER_COUNTY_VILLAGE)
    dispatch_new_tasks(batch_id=task.batch_id)
    response = as_user(api_client, crew["alice"]).post(
        "/api/v1/tasks/bulk-assign/", {"task_ids": [task.pk], "assignee": crew["bob"].pk}, format="json"
    )
    assert response.status_code == 400 and response.json()["problems"] == {"not_found": [task.pk]}


def test_receive_then_receive_again_is_409_naming_from_and_to(api_client, task, crew):
    client = as_user(api_client, crew["bob"])
    assert client.post(f"/api/v1/tasks/{task.pk}/receive/").status_code == 200
    response = client.post(f"/api/v1/tasks/{task.pk}/receive/")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["from_status"], body["to_status"]) == (
        "illegal_transition",
        "received",
        "received",
    )


def test_transfer_accept_and_reject_through_the_api(api_client, crew, outsider):
    now = timezone.now()
    a, b = make_task(batch_at=now), make_task(batch_at=now)
    dispatch_new_tasks(now=now)
    sender = as_user(api_client, crew["alice"])
    for t in (a, b):
        response = sender.post(
            f"/api/v1/tasks/{t.pk}/transfer/",
            {"division_code": OTHER_COUNTY_VILLAGE, "reason": "人在龙华区"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "transferring"
        assert response.json()["pending_transfer"]["to_division_code"] == OTHER_COUNTY_VILLAGE
    # The sender cannot decide: 403 (it sees the task, but is not the receiving desk).
    assert sender.post(f"/api/v1/tasks/{a.pk}/transfer/accept/").status_code == 403
    receiver = as_user(api_client, outsider)
    inbox = receiver.get("/api/v1/transfers/", {"box": "incoming", "status": "pending"}).json()["results"]
    assert {row["task"] for row in inbox} == {a.pk, b.pk}
    assert receiver.get(f"/api/v1/tasks/{a.pk}/").status_code == 404  # not theirs until accepted
    response = receiver.post(f"/api/v1/tasks/{a.pk}/transfer/accept/")
    assert response.status_code == 200 and response.json()["division_code"] == OTHER_COUNTY_VILLAGE
    assert receiver.get(f"/api/v1/tasks/{a.pk}/").status_code == 200
    assert (
        receiver.post(f"/api/v1/tasks/{b.pk}/transfer/reject/", {}, format="json").status_code == 400
    )  # reason required
    response = receiver.post(f"/api/v1/tasks/{b.pk}/transfer/reject/", {"reason": "查无此人"}, format="json")
    # After the rejection the task is the sender's again; the answer is still the task's state.
    assert response.status_code == 200 and response.json()["status"] == "dispatched"
    assert receiver.post(f"/api/v1/tasks/{b.pk}/transfer/accept/").status_code == 404


def test_resolve_dispatches_an_unresolved_task(api_client, crew):
    task = make_task(HOME_COUNTY, batch_at=timezone.now())
    dispatch_new_tasks(batch_id=task.batch_id)
    response = as_user(api_client, crew["alice"]).post(
        f"/api/v1/tasks/{task.pk}/resolve/", {"division_code": "460105001001"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "dispatched" and response.json()["subunit"] == crew["subunit"].pk


def test_field_staff_cannot_resolve(api_client, crew):
    task = make_task("460105001001", batch_at=timezone.now())
    response = as_user(api_client, crew["bob"]).post(
        f"/api/v1/tasks/{task.pk}/resolve/", {"division_code": "460105001001"}, format="json"
    )
    assert response.status_code == 403


def test_escalations_are_listed_and_filtered_within_scope(api_client, crew, outsider):
    start = timezone.now() - timedelta(hours=5)
    task = make_task(batch_at=start)
    dispatch_new_tasks(batch_id=task.batch_id, now=start)
    sweep()
    assert Escalation.objects.filter(task=task).count() == 2  # radius warning + breach
    client = as_user(api_client, crew["alice"])
    rows = client.get("/api/v1/escalations/", {"clock": "radius", "level": "breach"}).json()["results"]
    assert [(r["task"], r["clock"], r["level"]) for r in rows] == [(task.pk, "radius", "breach")]
    assert len(client.get("/api/v1/escalations/", {"task": task.pk}).json()["results"]) == 2
    assert len(client.get("/api/v1/escalations/", {"division": "460105001"}).json()["results"]) == 2
    assert client.get("/api/v1/escalations/", {"division": "460106"}).json()["results"] == []
    assert client.get("/api/v1/escalations/", {"clock": "lunch"}).status_code == 400
    assert as_user(api_client, outsider).get("/api/v1/escalations/").json()["results"] == []
    other = as_user(api_client, outsider).get(f"/api/v1/escalations/{rows[0]['id']}/")
    assert other.status_code == 404


def test_overdue_filter(crew):
    from tasks.workflow import filter_overdue

    start = timezone.now() - timedelta(hours=4)
    late = make_task(batch_at=start)
    dispatch_new_tasks(batch_id=late.batch_id, now=start)
    fresh = make_task(batch_at=timezone.now())
    dispatch_new_tasks(batch_id=fresh.batch_id)
    queued = make_task(HOME_COUNTY, batch_at=start)
    dispatch_new_tasks(batch_id=queued.batch_id, now=start)
    all_tasks = TracingTask.objects.all()
    assert set(filter_overdue(all_tasks, "radius", timezone.now())) == {late}
    assert set(filter_overdue(all_tasks, "trace", timezone.now())) == set()
    assert set(filter_overdue(all_tasks, "dispatch", timezone.now())) == {queued}
    assert set(filter_overdue(all_tasks, "dispatch,radius", timezone.now())) == {late, queued}
    with pytest.raises(ValueError):
        filter_overdue(all_tasks, "lunch", timezone.now())


def test_the_notification_inbox(api_client, crew):
    start = timezone.now() - timedelta(hours=5)
    task = make_task(batch_at=start)
    dispatch_new_tasks(batch_id=task.batch_id, now=start)
    sweep()
    client = as_user(api_client, crew["tina"])
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    rows = client.get("/api/v1/notifications/", {"unread": "true"}).json()["results"]
    assert rows[0]["kind"] == "escalation" and rows[0]["task"] == task.pk and rows[0]["subject"]
    response = client.post("/api/v1/notifications/read/", {"all": True}, format="json")
    assert response.json() == {"marked": 1, "unread": 0}
    # Someone else's notification cannot be read or marked.
    other = as_user(api_client, crew["alice"])
    assert other.get(f"/api/v1/notifications/{rows[0]['id']}/").status_code == 404
