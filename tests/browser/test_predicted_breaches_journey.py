"""Predicted breaches from the browser (docs/duty.md), at 1366 px: the duty officer sees on the dashboard
which of the home township's tasks are expected to breach, opens the page of every township and horizon,
follows a task to its page, and applies the rebalancing suggestion with one click.

The browser keeps the real clock (a session cookie set at a moment years away would be expired for it):
the tasks are seeded relative to now, every deadline at least ten minutes from any edge of the model."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from tasks.models import Role, TracingTask, UnitMembership
from tests.browser.conftest import login
from tests.conftest import HOME_TOWNSHIP, HOME_VILLAGE
from tests.factories import UserFactory
from tests.workflow_fixtures import make_task, unit

DESKTOP = {"width": 1366, "height": 900}
MIN = timedelta(minutes=1)


def _seed(now, bob, dan):
    """bob holds five open tasks, dan none, both in the village's sub-unit; radius steps took 60 minutes
    this week. Two workers, 60 minutes each: due at 20 and 40 minutes (done at 60), at 70 and 95 (done at
    90 and 120) all breach; the one due at 150 minutes is beyond two hours."""
    subunit = unit("subunit", HOME_VILLAGE)
    for user in (bob, dan):
        UnitMembership.objects.get_or_create(unit=subunit, user=user)
    for _ in range(3):
        done = make_task(HOME_VILLAGE, batch_at=now - timedelta(days=1), status="approved")
        done.dispatched_at = now - timedelta(days=1)
        done.radius_limited_at = done.dispatched_at + 60 * MIN
        done.save()
    tasks = {}
    for minutes in (20, 40, 70, 95, 150):
        task = make_task(HOME_VILLAGE, batch_at=now - 60 * MIN, status="received", assignee=bob)
        task.subunit = subunit
        task.team = unit("team", HOME_TOWNSHIP)
        task.dispatched_at = now - 50 * MIN
        task.dispatch_due = now - 30 * MIN
        task.radius_due = now + minutes * MIN
        task.trace_due = now + 9 * 60 * MIN
        task.save()
        tasks[minutes] = task
    return tasks


def test_the_duty_officer_sees_the_predicted_breaches_and_rebalances(
    page, live_server, hainan, duty_officer, field_staff, password, screenshot, settings
):
    settings.WORKLOAD_CACHE_SECONDS = 0
    dan = UserFactory(username="dan", full_name="网格员丙", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)
    tasks = _seed(timezone.now(), field_staff, dan)
    page.set_viewport_size(DESKTOP)
    login(page, live_server, duty_officer.username, password)

    # The dashboard's panel: the home township first, four tasks within two hours, two per hour.
    page.goto(f"{live_server.url}/dashboard/")
    panel = page.get_by_test_id("predicted-breaches-panel")
    expect(panel.get_by_test_id("predicted-total")).to_have_text("4")
    township = panel.locator(f"[data-township='{HOME_TOWNSHIP}']")
    expect(township.locator("[data-hour='1']")).to_have_text("2")
    expect(township.locator("[data-hour='2']")).to_have_text("2")
    expect(township.get_by_test_id("worst-task").first).to_have_attribute("href", f"/tasks/{tasks[20].pk}/")
    expect(township.get_by_test_id("predicted-suggestion")).to_contain_text("网格员丙")
    panel.scroll_into_view_if_needed()
    screenshot(page, "dashboard")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]

    # Every township and horizon: one hour holds the two earliest.
    with page.expect_navigation():
        panel.get_by_test_id("predicted-more").click()
    page.locator("select[name=hours]").select_option("1")
    with page.expect_navigation():
        page.locator("form.weeknav button[type=submit]").click()
    expect(page.get_by_test_id("predicted-total")).to_contain_text("2")
    screenshot(page, "page")

    # The worst task opens its own page.
    with page.expect_navigation():
        page.locator(f"[data-township='{HOME_TOWNSHIP}']").get_by_test_id("worst-task").first.click()
    assert page.url.endswith(f"/tasks/{tasks[20].pk}/")

    # One click applies the suggestion through the bulk assignment: half the difference (2) goes to dan.
    page.goto(f"{live_server.url}/duty/predicted-breaches/")
    with page.expect_navigation():
        page.get_by_test_id("apply-predicted-suggestion").first.click()
    expect(page.locator(".messages")).to_contain_text("2")
    assert TracingTask.objects.filter(assignee=dan).count() == 2
    assert TracingTask.objects.filter(assignee=field_staff, status="received").count() == 3
