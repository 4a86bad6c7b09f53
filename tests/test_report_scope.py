"""Route-walker entries of reports (issue 7), merged into tests/test_scope_routes.py ROUTES, and the
scope checks that do not fit its shapes."""

from __future__ import annotations

import pytest

from tests.conftest import HOME_VILLAGE

OTHER_COUNTY_VILLAGE = "460106001002"


@pytest.fixture(autouse=True)
def _live_dashboard(settings):
    """The dashboard data cache off: each request computes from the rollups (its own test below)."""
    settings.DASHBOARD_CACHE_SECONDS = 0


def _task(code):
    from tests.factories import TracingTaskFactory

    return TracingTaskFactory(division_id=code)


def _township_with_a_task(code):
    """For the outsider (county 460106), a township code shown (own) or not (home county's)."""
    return _task(code).division_id[:9]


def _version(code):
    from reports.models import ReportVersion

    return ReportVersion.objects.create(task=_task(code), number=1, reason="approval", data={}, digest="")


def _delivery(code):
    from reports.models import UpstreamDelivery

    return UpstreamDelivery.objects.create(version=_version(code), endpoint="http://upstream.example/r")


def reports_routes(Detail, ListOf, NoObject, PageList):
    from tests.test_scope_routes import other_village_task

    version = lambda: _version("460105001002")  # noqa: E731 - the other village of the home township
    return {
        "dashboard": PageList(
            lambda: _township_with_a_task(HOME_VILLAGE),
            own=lambda: _township_with_a_task(OTHER_COUNTY_VILLAGE),
            context_key="division_codes",
            account="outsider",
        ),
        "stats": PageList(
            lambda: _township_with_a_task(HOME_VILLAGE),
            own=lambda: _township_with_a_task(OTHER_COUNTY_VILLAGE),
            context_key="division_codes",
            account="outsider",
        ),
        # Same query parser as api-stats; ?division= outside the territory → 404 (tests/test_stats_api.py).
        "stats_export": NoObject(),
        "report_deliveries": PageList(
            lambda: _delivery(HOME_VILLAGE),
            own=lambda: _delivery(OTHER_COUNTY_VILLAGE),
            context_key="deliveries",
            account="outsider",
        ),
        "report_task": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
        "report_task_pdf": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
        "report_cluster": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
        "report_chain": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
        "report_version": Detail(version, kwargs=lambda v: {"task_id": v.task_id, "number": v.number}),
        "report_version_pdf": Detail(version, kwargs=lambda v: {"task_id": v.task_id, "number": v.number}),
        "api-stats": ListOf(
            lambda: _task(HOME_VILLAGE),
            key=lambda row: row["code"],
            value=lambda t: t.division_id,
            own=lambda: _task(OTHER_COUNTY_VILLAGE),
            account="outsider",
            params={"level": "village"},
        ),
        # Aggregates of the caller's own territory only (no division parameter): tests/test_stats_api.py.
        "api-stats-sla": NoObject(),
        "api-stats-dashboard": NoObject(),
        "api-report-chain": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
    }


@pytest.mark.django_db
def test_the_dashboard_data_leaves_out_other_counties(client, outsider, password):
    _task(HOME_VILLAGE)
    _task(OTHER_COUNTY_VILLAGE)
    assert client.login(username=outsider.username, password=password)
    data = client.get("/api/v1/stats/dashboard/").json()
    assert data["totals"]["total"] == 1
    assert [d["code"] for d in data["divisions"]] == ["460106001"]
    assert client.get("/api/v1/stats/sla/", {"division": "460105"}).status_code == 404
