"""The dashboard map: Hainan's county boundaries (vendored GeoJSON, joined to division codes) drawn with
Leaflet, coloured by load; clicking a county drills down into it."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import login


@pytest.fixture
def demo(hainan):
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


def test_the_commander_drills_down_from_the_city_map(demo, page, live_server, screenshot):
    from reports.management.commands.seed_demo import DEMO_PASSWORD

    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, "commander", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/dashboard/")
    box = page.get_by_test_id("dashboard-map")
    expect(box).to_have_attribute("data-ready", "true")
    assert int(box.get_attribute("data-features")) == 4  # the four districts of Haikou
    expect(box.locator(".leaflet-control-scale")).to_be_visible()
    screenshot(page, "city-map")

    # 秀英区 (460105) holds the demo's open tasks: the busiest, and the way in.
    box.locator("path.leaflet-interactive").nth(2).click(force=True)
    expect(page).to_have_url(re.compile(r"\?division=4601\d\d$"))
    expect(page.get_by_test_id("dashboard-map")).to_have_attribute("data-features", "1")
    expect(page.get_by_test_id("drill-up")).to_be_visible()
    screenshot(page, "county-map")


def test_a_division_outside_the_scope_is_not_found(demo, client):
    from tasks.models import User

    client.force_login(User.objects.get(username="commander"))
    assert client.get("/dashboard/", {"division": "460200"}).status_code == 404
    assert client.get("/api/v1/stats/dashboard/", {"division": "4602"}).status_code == 404
    assert client.get("/api/v1/stats/dashboard/", {"division": "x"}).status_code == 404
    assert client.get("/api/v1/stats/dashboard/", {"division": "460105"}).status_code == 200
