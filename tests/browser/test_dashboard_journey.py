"""The duty officer's dashboard (issue 7) in Chromium: it polls its data endpoint and shows a batch
created on the server while the page is open, without a reload."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import HOME_VILLAGE
from tests.factories import IntakeBatchFactory, TracingTaskFactory


def test_the_dashboard_shows_a_new_batch_without_a_reload(
    page, live_server, hainan, duty_officer, password, screenshot, settings
):
    settings.DASHBOARD_POLL_SECONDS = 1
    now = timezone.now()
    first = IntakeBatchFactory(started_at=now - timedelta(minutes=10))
    TracingTaskFactory(division_id=HOME_VILLAGE, batch=first, created_at=now - timedelta(minutes=10))
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)

    login(page, live_server, duty_officer.username, password)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.get_by_test_id("last-batch")).to_contain_text(f"#{first.pk}")
    expect(page.get_by_test_id("active")).to_have_text("1")
    expect(page.locator("#trend-chart")).to_be_visible()
    page.evaluate("window.__marker = 'same page'")  # gone if the page reloads

    second = IntakeBatchFactory(started_at=timezone.now())
    for _ in range(3):
        TracingTaskFactory(division_id=HOME_VILLAGE, batch=second, created_at=timezone.now())

    expect(page.get_by_test_id("last-batch")).to_contain_text(f"#{second.pk}", timeout=10_000)
    expect(page.get_by_test_id("active")).to_have_text("4")
    expect(page.get_by_test_id("tilemap").locator(".tile")).to_have_count(1)
    assert page.evaluate("window.__marker") == "same page"
    assert csp == []
    screenshot(page, "new-batch")


def test_the_chain_graph_draws_a_cluster(page, live_server, hainan, duty_officer, password, screenshot):
    case = TracingTaskFactory(division_id=HOME_VILLAGE, priority=1, status="approved")
    first = [
        TracingTaskFactory(division_id=HOME_VILLAGE, source_task=case, generation=1, priority=1)
        for _ in range(4)
    ]
    for parent in first[:2]:
        for _ in range(3):
            TracingTaskFactory(
                division_id=HOME_VILLAGE, source_task=parent, generation=2, priority=1, status="dispatched"
            )
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server, duty_officer.username, password)
    page.goto(f"{live_server.url}/reports/tasks/{case.pk}/chain/")
    expect(page.locator('[data-field="count"]')).to_contain_text("11 / 10")
    expect(page.locator("#chain canvas").first).to_be_attached()
    assert csp == []
    screenshot(page, "chain")
