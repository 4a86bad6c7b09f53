"""Workload per member and team (controlled clock): open tasks by kind and clock state, due in the next
hour, breached, median handling times; the rebalancing suggestion respects villages and is applied
through the bulk assignment; scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from duty.services.workload import workload
from tasks.models import Role, TracingTask, UnitMembership
from tests.conftest import HOME_COUNTY, HOME_TOWNSHIP, HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import UserFactory
from tests.workflow_fixtures import T0, make_task, unit

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


def open_task(
    assignee, *, now, division=HOME_VILLAGE, radius_in=None, kind="investigation", status="received"
):
    """A dispatched task of `assignee` whose radius clock is due `radius_in` from `now` (None: no clock)."""
    task = make_task(division, batch_at=now - 60 * MIN, status=status, kind=kind, assignee=assignee)
    task.subunit = unit("subunit", division)
    task.team = unit("team", division[:9])
    task.dispatched_at = now - 50 * MIN
    task.radius_due = now + radius_in if radius_in is not None else None
    task.save()
    return task


@pytest.fixture(autouse=True)
def _live(settings):
    settings.WORKLOAD_CACHE_SECONDS = 0


@pytest.fixture
def load(crew):
    """bob: 5 open tasks (1 breached, 1 at warning, 1 due within the hour), dan: 1, in the home village;
    two of bob's submitted in the last week after 60 and 120 minutes."""
    now = T0
    bob, dan = crew["bob"], crew["dan"]
    tasks = [
        open_task(bob, now=now, radius_in=-10 * MIN),  # breached
        open_task(
            bob, now=now, radius_in=20 * MIN
        ),  # warning (3 h window: warning 36 min before) and due < 1 h
        open_task(bob, now=now, radius_in=150 * MIN),
        open_task(bob, now=now, radius_in=None, kind="verification"),
        open_task(bob, now=now, radius_in=170 * MIN),
        open_task(dan, now=now, radius_in=170 * MIN),
    ]
    for minutes in (60, 120):
        done = make_task(HOME_VILLAGE, batch_at=now - timedelta(days=2), status="approved", assignee=bob)
        done.team = unit("team", HOME_TOWNSHIP)
        done.dispatched_at = now - timedelta(days=2)
        done.submitted_at = done.dispatched_at + minutes * MIN
        done.save()
    return {"tasks": tasks, "now": now, **crew}


def test_numbers_per_member_and_team(load):
    data = workload(HOME_COUNTY, now=load["now"])
    members = {row["username"]: row for row in data["members"]}
    bob, dan = members["bob"], members["dan"]
    assert bob["open"] == 5 and dan["open"] == 1
    assert bob["by_state"] == {"ok": 3, "warning": 1, "breached": 1}
    assert bob["by_kind"]["investigation"] == {"ok": 2, "warning": 1, "breached": 1}
    assert bob["by_kind"]["verification"] == {"ok": 1, "warning": 0, "breached": 0}
    assert bob["due_next_hour"] == 1 and bob["breached"] == 1
    assert bob["median_handling_minutes"] == 90.0
    assert dan["median_handling_minutes"] is None
    # Members of the village sub-unit are listed with their units.
    assert {"id": load["subunit"].pk, "name": load["subunit"].name, "kind": "subunit"} in bob["units"]
    team = next(row for row in data["teams"] if row["id"] == load["team"].pk)
    assert team["open"] == 6 and team["breached"] == 1 and team["due_next_hour"] == 1
    assert team["median_handling_minutes"] == 90.0


def test_the_suggestion_moves_half_the_difference_inside_the_sub_unit(load):
    data = workload(HOME_COUNTY, now=load["now"])
    [suggestion] = data["suggestions"]
    assert suggestion["unit"]["id"] == load["subunit"].pk
    assert suggestion["from"]["id"] == load["bob"].pk and suggestion["to"]["id"] == load["dan"].pk
    assert suggestion["count"] == 2
    assert set(suggestion["task_ids"]) <= {t.pk for t in load["tasks"][:5]}
    assert suggestion["apply"]["body"] == {
        "task_ids": suggestion["task_ids"],
        "assignee": load["dan"].pk,
        "reason": "workload rebalancing",
    }


def test_rebalancing_respects_villages(load):
    """A member of the team scoped to another village never receives the home village's tasks."""
    other = UserFactory(username="olga", role=Role.FIELD_STAFF, division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    UnitMembership.objects.create(unit=load["team"], user=other)
    UnitMembership.objects.create(unit=load["team"], user=load["bob"])
    data = workload(HOME_COUNTY, now=load["now"])
    for suggestion in data["suggestions"]:
        if suggestion["to"]["id"] == other.pk:
            pytest.fail("a home-village task was suggested to a member of another village")
    assert (
        not TracingTask.objects.filter(pk__in=[i for s in data["suggestions"] for i in s["task_ids"]])
        .exclude(division__code__startswith=HOME_VILLAGE)
        .exists()
    )


def test_the_leader_applies_the_suggestion_through_the_bulk_assignment(client, load):
    # The real clock: the page computes at now.
    now = timezone.now()
    TracingTask.objects.filter(pk__in=[t.pk for t in load["tasks"]]).update(dispatched_at=now - 50 * MIN)
    client.force_login(load["tina"])
    page = client.get("/duty/workload/")
    assert page.status_code == 200
    [suggestion] = page.context["data"]["suggestions"]
    html = page.content.decode()
    assert 'data-testid="apply-suggestion"' in html and "/dispatch/assign/" in html
    response = client.post(
        "/dispatch/assign/",
        {"task_ids": suggestion["task_ids"], "assignee": suggestion["to"]["id"], "reason": "工作量调配"},
    )
    assert response.status_code == 302
    moved = TracingTask.objects.filter(pk__in=suggestion["task_ids"])
    assert set(moved.values_list("assignee_id", flat=True)) == {load["dan"].pk}
    after = workload(HOME_COUNTY)
    assert after["suggestions"] == []  # 3 and 3: balanced


def test_the_api_contract_and_scope(api_client, load, outsider, field_staff):
    api_client.force_login(load["alice"])
    body = api_client.get("/api/v1/workload/", {"division": HOME_TOWNSHIP}).json()
    assert body["division"] == HOME_TOWNSHIP
    assert {"members", "teams", "suggestions", "unassigned", "now"} <= set(body)
    row = next(m for m in body["members"] if m["username"] == "bob")
    assert {
        "open",
        "by_kind",
        "by_state",
        "due_next_hour",
        "breached",
        "median_handling_minutes",
        "units",
    } <= set(row)
    assert api_client.get("/api/v1/workload/", {"division": "460106"}).status_code == 404
    bad = api_client.get("/api/v1/workload/", {"division": "46x"})
    assert bad.status_code == 400 and "division" in bad.json()["errors"]
    # Another county's duty officer sees none of it; a grid worker may not use it.
    api_client.force_login(outsider)
    assert all(
        m["username"] not in {"bob", "dan"} for m in api_client.get("/api/v1/workload/").json()["members"]
    )
    api_client.force_login(field_staff)
    assert api_client.get("/api/v1/workload/").status_code == 403


def test_the_workload_is_one_scan_not_one_query_per_member(load, django_assert_max_num_queries):
    for n in range(10):
        member = UserFactory(role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)
        UnitMembership.objects.create(unit=load["subunit"], user=member)
        open_task(member, now=load["now"], radius_in=(n + 1) * 30 * MIN)
    with django_assert_max_num_queries(8):
        workload(HOME_COUNTY, now=load["now"])


def test_the_api_answer_is_shared_for_a_few_seconds(api_client, load, settings):
    from django.core.cache import cache

    settings.WORKLOAD_CACHE_SECONDS = 5
    cache.delete(f"duty:workload:{HOME_TOWNSHIP}")
    api_client.force_login(load["alice"])
    first = api_client.get("/api/v1/workload/", {"division": HOME_TOWNSHIP}).json()
    open_task(load["dan"], now=load["now"])
    assert api_client.get("/api/v1/workload/", {"division": HOME_TOWNSHIP}).json() == first
    cache.delete(f"duty:workload:{HOME_TOWNSHIP}")


def test_a_stale_answer_is_served_at_once_while_one_refresh_runs():
    """Past its freshness a shared answer is still served, without waiting, and only one computation of
    the next one runs however many readers come meanwhile."""
    import threading
    import uuid

    import time_machine

    from duty.services import shared

    key, release, calls = f"test:{uuid.uuid4()}", threading.Event(), []

    def slow():
        calls.append(1)
        release.wait(10)
        return "second"

    with time_machine.travel(T0, tick=False) as clock:
        assert shared.shared_answer(key, 5, lambda: "first") == "first"
        clock.shift(6)
        assert [shared.shared_answer(key, 5, slow) for _ in range(3)] == ["first"] * 3
        release.set()
        for thread in threading.enumerate():
            if thread.name == f"refresh {key}":
                thread.join(10)
        assert calls == [1]
        assert shared.shared_answer(key, 5, slow) == "second"
