"""Statistics API and pages (issue 7): parameters, scope, exports, SLA, the dashboard data."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from reports.models import ExportLog
from tasks.models import TracingTask
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import IntakeBatchFactory, TracingTaskFactory
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _live_dashboard(settings):
    """The dashboard data cache off: each request computes from the rollups (its own test below)."""
    settings.DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture
def tasks(hainan):
    now = timezone.now()
    batch = IntakeBatchFactory(started_at=now - timedelta(hours=2))
    made = []
    for division, status, priority in [
        (HOME_VILLAGE, "new", 1),
        (HOME_VILLAGE, "dispatched", 2),
        (HOME_VILLAGE, "closed", 2),
        (OTHER_VILLAGE_SAME_TOWNSHIP, "received", 3),
        ("460105", "new", 4),
        (OTHER_COUNTY_VILLAGE, "new", 1),
    ]:
        made.append(
            TracingTaskFactory(
                division_id=division,
                status=status,
                priority=priority,
                batch=batch,
                created_at=now - timedelta(hours=1),
            )
        )
    dispatched = made[1]
    TracingTask.objects.filter(pk=dispatched.pk).update(
        dispatch_due=now - timedelta(minutes=60),
        dispatched_at=now - timedelta(minutes=70),
        radius_due=now + timedelta(minutes=30),
        trace_due=now + timedelta(hours=5),
    )
    return made


def login(client, user, password):
    assert client.login(username=user.username, password=password)


def live(prefix: str, **filters) -> int:
    return TracingTask.objects.filter(division__code__startswith=prefix, **filters).count()


def test_by_division_at_the_township_level_equals_a_live_count(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    data = client.get("/api/v1/stats/", {"group_by": "division", "level": "township"}).json()
    rows = {r["code"]: r for r in data["results"]}
    assert data["division"] == "460105" and data["level"] == "township"
    assert rows["460105001"]["total"] == live("460105001") == 4
    assert rows["460105001"]["active"] == 3
    assert rows["460105"]["unresolved"] == 1  # a task still at county level is its own row
    assert "460106" not in str(data["results"])  # another county's task is not counted


def test_village_level_and_filters(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    data = client.get(
        "/api/v1/stats/", {"level": "village", "division": "460105001", "status": "active", "priority": "1,2"}
    ).json()
    assert {r["code"]: r["total"] for r in data["results"]} == {HOME_VILLAGE: 2}


@pytest.mark.parametrize("group_by", ["status", "priority", "batch", "source", "hour", "day"])
def test_every_grouping_answers(client, duty_officer, password, tasks, group_by):
    login(client, duty_officer, password)
    response = client.get("/api/v1/stats/", {"group_by": group_by})
    assert response.status_code == 200, response.content
    assert response.json()["columns"]


def test_status_grouping_counts_only_the_territory(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    rows = {
        r["status"]: r["tasks"]
        for r in client.get("/api/v1/stats/", {"group_by": "status"}).json()["results"]
    }
    assert rows == {"new": 2, "dispatched": 1, "received": 1, "closed": 1}


def test_the_hourly_trend_counts_created_and_dispatched_tasks(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    rows = client.get("/api/v1/stats/", {"group_by": "hour"}).json()["results"]
    assert sum(r["created"] for r in rows) == 5
    assert sum(r["dispatched"] for r in rows) == 1


def test_a_division_outside_the_territory_does_not_exist(client, outsider, password, tasks):
    login(client, outsider, password)
    assert client.get("/api/v1/stats/", {"division": "460105"}).status_code == 404
    assert client.get("/stats/", {"division": "460105001"}).status_code == 404
    rows = client.get("/api/v1/stats/", {"level": "village"}).json()["results"]
    assert [r["code"] for r in rows] == [OTHER_COUNTY_VILLAGE]


def test_bad_parameters_are_a_400(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    assert client.get("/api/v1/stats/", {"group_by": "nonsense"}).status_code == 400
    assert client.get("/api/v1/stats/", {"level": "province"}).status_code == 400  # above the territory
    assert client.get("/api/v1/stats/", {"since": "yesterday"}).status_code == 400


def test_roles_without_statistics_are_refused(client, field_staff, password, tasks):
    login(client, field_staff, password)
    assert client.get("/api/v1/stats/").status_code == 403
    assert client.get("/api/v1/stats/dashboard/").status_code == 403
    assert client.get("/dashboard/").status_code == 403


def test_sla_shares_medians_backlog(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    sla = client.get("/api/v1/stats/sla/").json()
    assert sla["dispatched"] == 1 and sla["dispatch_within_30_min"] == 1.0
    assert sla["median_minutes"]["dispatch"] == pytest.approx(
        20.0
    )  # 70 min ago, 30 min window ended 60 min ago
    assert sla["backlog"] == live("460105", status__in=["new", "dispatched", "received"]) == 4


def test_csv_and_xlsx_exports_are_scoped_and_audited(client, duty_officer, password, tasks):
    from openpyxl import load_workbook

    login(client, duty_officer, password)
    csv_response = client.get("/stats/export/", {"level": "village", "export": "csv"})
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    text = csv_response.content.decode("utf-8-sig")
    assert (
        text.splitlines()[0].startswith("code,name,total")
        and HOME_VILLAGE in text
        and OTHER_COUNTY_VILLAGE not in text
    )
    xlsx = client.get("/api/v1/stats/", {"group_by": "status", "export": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == ["status", "label", "tasks"]
    assert list(ExportLog.objects.values_list("user__username", "table", "format")) == [
        ("alice", "division", "csv"),
        ("alice", "status", "xlsx"),
    ] or sorted(ExportLog.objects.values_list("table", "format")) == [("division", "csv"), ("status", "xlsx")]


def test_the_dashboard_data_equals_a_live_count(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    data = client.get("/api/v1/stats/dashboard/").json()
    assert data["totals"]["total"] == live("460105") == 5
    assert data["totals"]["active"] == live("460105", status__in=["new", "dispatched", "received"])
    assert data["by_status"] == {"new": 2, "dispatched": 1, "received": 1, "closed": 1}
    assert data["queues"]["unresolved"] == 1
    assert data["batches"]["last"]["id"] == tasks[0].batch_id and data["batches"]["last"]["tasks_here"] == 5
    # the dispatched task's radius clock runs out in 30 min: about to expire, linked to its report
    assert [t["id"] for t in data["clocks"]["expiring"]] == [tasks[1].pk]
    assert data["clocks"]["expiring"][0]["url"] == f"/reports/tasks/{tasks[1].pk}/"
    breached = {t["id"] for t in data["clocks"]["breached"]}
    assert tasks[5].pk not in breached  # other county


def test_the_dashboard_page_renders_without_inline_script(client, duty_officer, password, tasks):
    login(client, duty_officer, password)
    response = client.get("/dashboard/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard-initial" type="application/json"' in html
    assert " style=" not in html and "onclick" not in html
    assert "vendor/chartjs/chart.umd.min.js" in html and 'data-testid="watermark"' in html


def test_the_statistics_page_shows_a_table_and_sla(client, commander, password, tasks):
    login(client, commander, password)
    response = client.get("/stats/", {"group_by": "day"})
    assert response.status_code == 200
    assert b'data-testid="stats-table"' in response.content and b"stats-rows" in response.content


def test_the_dashboard_data_is_shared_for_a_few_seconds_then_recomputed(
    client, duty_officer, password, tasks, settings
):
    import time_machine
    from django.core.cache import cache

    settings.DASHBOARD_CACHE_SECONDS = 2
    cache.delete("reports:dashboard:460105")
    login(client, duty_officer, password)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert client.get("/api/v1/stats/dashboard/").json()["totals"]["total"] == 5
        TracingTaskFactory(division_id=HOME_VILLAGE, batch=tasks[0].batch)
        assert (
            client.get("/api/v1/stats/dashboard/").json()["totals"]["total"] == 5
        )  # within 2 s: the shared answer
        clock.shift(3)
        assert client.get("/api/v1/stats/dashboard/").json()["totals"]["total"] == 6 == live("460105")


def test_the_dashboard_endpoint_answers_json_errors(client, api_client, field_staff, password, tasks):
    response = client.get("/api/v1/stats/dashboard/")
    assert response.status_code == 403 and response.json()["detail"]
    login(client, field_staff, password)
    assert client.get("/api/v1/stats/dashboard/").status_code == 403
