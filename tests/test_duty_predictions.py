"""Predicted breaches (controlled clock): per township, the open tasks expected to breach their next
deadline if the township's workers handle the queue in deadline order at the median handling time of
each clock step; scope, the API, the dashboard panel, and the partial index."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from duty.services.predictions import INDEX_NAME, INDEX_SQL, NEXT_DUE, predicted_breaches
from tasks.models import Role, TracingTask, UnitMembership
from tests.conftest import HOME_COUNTY, HOME_TOWNSHIP, HOME_VILLAGE, OTHER_COUNTY
from tests.factories import UserFactory
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task, unit

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)
OTHER_TOWNSHIP = OTHER_COUNTY + "001"
OTHER_VILLAGE = OTHER_COUNTY_VILLAGE


@pytest.fixture(autouse=True)
def _live(settings):
    settings.WORKLOAD_CACHE_SECONDS = 0


def open_task(*, radius_in, division=HOME_VILLAGE, assignee=None, kind="investigation", **fields):
    """A dispatched investigation whose radius clock (its next deadline) falls `radius_in` from T0."""
    task = make_task(division, batch_at=T0 - 60 * MIN, status="received", kind=kind, assignee=assignee)
    task.dispatched_at = T0 - 50 * MIN
    task.dispatch_due = T0 - 30 * MIN
    task.radius_due = T0 + radius_in
    task.trace_due = T0 + 9 * 60 * MIN
    for name, value in fields.items():
        setattr(task, name, value)
    task.save()
    return task


def done_task(*, radius_took, division=HOME_VILLAGE):
    """A task dispatched two days before T0 whose radius was limited `radius_took` after dispatch."""
    task = make_task(division, batch_at=T0 - timedelta(days=2), status="approved")
    task.dispatched_at = T0 - timedelta(days=2)
    task.dispatch_due = task.dispatched_at + 10 * MIN
    task.radius_limited_at = task.dispatched_at + radius_took
    task.save()
    return task


@pytest.fixture
def queue(hainan, field_staff, duty_officer):
    """The home township: three grid workers, a median radius step of 60 minutes, and a queue of six
    tasks due within two hours (one already breached) plus one due later."""
    for n in range(2):
        UserFactory(username=f"worker{n}", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)
    for minutes in (50, 60, 70):
        done_task(radius_took=minutes * MIN)
    tasks = {
        minutes: open_task(radius_in=minutes * MIN, assignee=field_staff)
        for minutes in (-10, 30, 45, 90, 100, 110, 200)
    }
    return {"tasks": tasks, "bob": field_staff, "alice": duty_officer}


def township(data, code=HOME_TOWNSHIP):
    return next(t for t in data["townships"] if t["code"] == code)


def test_the_queue_is_handled_in_deadline_order_at_the_median_rate(queue):
    """Three workers, 60 minutes each: the k-th task is done at max(60, 60 k / 3) minutes. Due at 30 and
    45 (done at 60 and 60) and 110 (done at 120) breach; 90 (done at 80) does not; 100 (done at 100,
    exactly at its deadline) does not; -10 is already breached; 200 is beyond the horizon."""
    data = predicted_breaches(HOME_COUNTY, hours=2, now=T0)
    row = township(data)
    assert row["workers"] == 3
    assert row["queue"] == 6 and row["already_breached"] == 1
    assert [h["count"] for h in row["per_hour"]] == [2, 1]
    assert row["expected_breaches"] == 3 and data["expected_breaches"] == 3
    assert row["median_minutes"]["radius"] == 60.0
    tasks = queue["tasks"]
    assert [w["id"] for w in row["worst"]] == [tasks[30].pk, tasks[45].pk, tasks[110].pk]
    worst = row["worst"][0]
    assert worst["url"] == f"/tasks/{tasks[30].pk}/" and worst["step"] == "radius"
    assert worst["minutes_late"] == 30.0
    assert worst["due"].endswith("+08:00")  # Beijing time
    # The townships in trouble come first.
    assert data["townships"][0]["code"] == HOME_TOWNSHIP


def test_one_second_either_side_of_the_deadline(queue):
    """The task due at 100 minutes is done exactly at its deadline: not a breach; one second later its
    deadline is one second earlier than its completion: a breach."""
    tasks = queue["tasks"]
    TracingTask.objects.filter(pk=tasks[100].pk).update(radius_due=T0 + 100 * MIN - timedelta(seconds=1))
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    assert [h["count"] for h in row["per_hour"]] == [2, 2]


def test_the_horizon_is_the_number_of_hours(queue):
    one = township(predicted_breaches(HOME_COUNTY, hours=1, now=T0))
    assert one["queue"] == 3 and [h["count"] for h in one["per_hour"]] == [2]
    four = township(predicted_breaches(HOME_COUNTY, hours=4, now=T0))
    # 200 minutes, 7th in the queue: done at 140 minutes, in time.
    assert four["queue"] == 7 and [h["count"] for h in four["per_hour"]] == [2, 1, 0, 0]
    with pytest.raises(ValueError):
        predicted_breaches(HOME_COUNTY, hours=5, now=T0)


def test_more_workers_fewer_breaches_and_none_means_all(queue):
    for n in range(3):
        UserFactory(username=f"extra{n}", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)
    # Six workers: every task is done 60 minutes from now; only those due at 30 and 45 breach.
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    assert row["workers"] == 6 and row["expected_breaches"] == 2
    # Nobody in the township: every deadline ahead breaches.
    from tasks.models import User

    User.objects.filter(division__code__startswith=HOME_TOWNSHIP).update(is_active=False)
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    assert row["workers"] == 0 and row["expected_breaches"] == 5
    assert row["worst"][0]["expected_done"] is None


def test_each_step_takes_its_own_median_and_falls_back_to_the_territory_then_half_the_window(
    hainan, field_staff, settings
):
    """A verification due in 100 minutes with one worker: no verification done in the township or the
    county, so half the 240-minute window (120 min) — a breach; once the county has verifications done
    in 30 minutes (in another township), it is in time."""
    task = open_task(
        radius_in=100 * MIN, kind="verification", radius_due=None, trace_due=None, verify_due=T0 + 100 * MIN
    )
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    assert row["workers"] == 1 and [w["id"] for w in row["worst"]] == [task.pk]
    assert row["worst"][0]["step"] == "verify" and row["worst"][0]["minutes_late"] == 20.0
    elsewhere = make_task(HOME_COUNTY + "002001", batch_at=T0 - timedelta(days=1), status="closed")
    TracingTask.objects.filter(pk=elsewhere.pk).update(
        kind="verification",
        dispatched_at=T0 - timedelta(days=1),
        verified_at=T0 - timedelta(days=1) + 30 * MIN,
    )
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    assert row["expected_breaches"] == 0 and "verify" not in row["median_minutes"]


def test_another_county_is_neither_listed_nor_counted(queue):
    UserFactory(role=Role.FIELD_STAFF, division_id=OTHER_VILLAGE)
    stranger = open_task(radius_in=20 * MIN, division=OTHER_VILLAGE)
    data = predicted_breaches(HOME_COUNTY, hours=2, now=T0)
    assert all(t["code"].startswith(HOME_COUNTY) for t in data["townships"])
    assert stranger.pk not in {w["id"] for t in data["townships"] for w in t["worst"]}
    # A township's view: only that township.
    only = predicted_breaches(HOME_TOWNSHIP, hours=2, now=T0)
    assert [t["code"] for t in only["townships"]] == [HOME_TOWNSHIP]


def test_suggestions_of_the_workload_come_with_their_township(queue):
    """bob holds all seven open tasks, the two other workers of his sub-unit none."""
    subunit = unit("subunit", HOME_VILLAGE)
    for user in [queue["bob"], *UserFactory._meta.model.objects.filter(username__startswith="worker")]:
        UnitMembership.objects.get_or_create(unit=subunit, user=user)
    row = township(predicted_breaches(HOME_COUNTY, hours=2, now=T0))
    [suggestion] = row["suggestions"]
    assert suggestion["from"]["id"] == queue["bob"].pk and suggestion["count"] == 3
    assert suggestion["apply"]["url"] == "/api/v1/tasks/bulk-assign/"


def test_the_api_contract_scope_and_parameters(api_client, queue, outsider, field_staff):
    url = "/api/v1/workload/predicted-breaches/"
    # The whole exchange at T0: a session used at T0 would look idle for years afterwards.
    with time_machine.travel(T0, tick=False):
        api_client.force_login(queue["alice"])
        body = api_client.get(url).json()
        assert body["division"] == HOME_COUNTY and body["hours"] == 2
        row = township(body)
        assert row["expected_breaches"] == 3 and {"per_hour", "worst", "suggestions", "workers"} <= set(row)
        assert api_client.get(url, {"hours": 1}).json()["hours"] == 1
        for bad in ({"hours": "0"}, {"hours": "5"}, {"hours": "x"}, {"division": "46x"}):
            response = api_client.get(url, bad)
            assert response.status_code == 400, bad
        assert "hours" in api_client.get(url, {"hours": "9"}).json()["errors"]
        assert api_client.get(url, {"division": OTHER_COUNTY}).status_code == 404
        # Another county's duty officer: none of the home county; a grid worker may not use it.
        api_client.force_login(outsider)
        body = api_client.get(url).json()
        assert body["townships"] and all(t["code"].startswith(OTHER_COUNTY) for t in body["townships"])
        api_client.force_login(field_staff)
        assert api_client.get(url).status_code == 403


def test_the_page_and_the_dashboard_panel(client, queue):
    with time_machine.travel(T0, tick=False):
        client.force_login(queue["alice"])
        page = client.get("/duty/predicted-breaches/", {"hours": 2})
        dashboard = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    tasks = queue["tasks"]
    assert f'href="/tasks/{tasks[30].pk}/"' in html
    assert [t.pk for t in page.context["tasks"]] == [tasks[30].pk, tasks[45].pk, tasks[110].pk]
    panel = dashboard.content.decode()
    assert 'data-testid="predicted-breaches-panel"' in panel and "/duty/predicted-breaches/" in panel
    assert f'href="/tasks/{tasks[30].pk}/"' in panel


def test_the_statement_reads_the_partial_index(queue):
    from django.db import connection

    # The index of the migration is the one the code describes.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX_NAME])
        (indexdef,) = cursor.fetchone()
        assert "varchar_pattern_ops" in indexdef and "registered_at IS NULL" in indexdef
        assert INDEX_NAME in INDEX_SQL
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM tasks_tracingtask t WHERE t.status IN "
            f"('new','dispatched','received','radius_limited','traced','submitted','returned','transferring') "
            f"AND t.division_id LIKE %s AND {NEXT_DUE} <= %s",
            [HOME_COUNTY + "%", T0],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert INDEX_NAME in plan, plan


def test_it_is_a_few_statements_not_one_per_task(queue, django_assert_max_num_queries):
    for n in range(20):
        open_task(radius_in=(n + 1) * 5 * MIN)
    with django_assert_max_num_queries(3):
        predicted_breaches(HOME_COUNTY, hours=2, now=T0)
