"""The sweep's digest in the inbox, by clicks: a grid worker on a 360 px phone reads one line for the
village's eight missed check-ins and follows it to the village's "due today" list; the duty desk on a
desktop reads one line for the county's misses of the day and follows it to the alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.clock import alert_moments, local_day
from monitoring.sweep import sweep
from tests.browser.conftest import PHONE, login, nav
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import make_task

PEOPLE = 8


@pytest.fixture
def missed(crew):
    """Eight persons of the home village in their third day of monitoring, none checked in today,
    swept at today's due hour."""
    now = timezone.now()
    today = local_day(now)
    periods = [
        make_period(make_task(status="approved"), starts_on=today - timedelta(days=2), now=now)
        for _ in range(PEOPLE)
    ]
    sweep(now=alert_moments(periods[0].due_day)[1])
    return periods


def test_a_digest_leads_the_grid_worker_and_the_desk_to_their_lists(
    new_context, live_server, crew, missed, password, screenshot
):
    phone = new_context(**PHONE).new_page()
    login(phone, live_server, crew["bob"].username, password)
    nav(phone, "通知")
    line = phone.get_by_test_id("notification-link")
    expect(line).to_have_count(1)
    expect(line.first).to_contain_text(f"秀华社区居民委员会 {PEOPLE} 人")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "1-phone-inbox")
    line.first.click()
    expect(phone).to_have_url(f"{live_server.url}/field/monitoring/")
    expect(phone.get_by_test_id("due-person")).to_have_count(PEOPLE)
    screenshot(phone, "2-due-today")

    # The next due hour: the day is missed, and the desk hears of it.
    sweep(now=alert_moments(missed[0].due_day)[4])

    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    login(page, live_server, crew["alice"].username, password)
    nav(page, "通知")
    desk = page.get_by_test_id("notifications").locator("tr", has_text="漏打卡")
    expect(desk).to_have_count(1)
    expect(desk).to_contain_text(f"{PEOPLE} 人")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    screenshot(page, "3-desk-inbox")
    desk.get_by_test_id("notification-link").click()
    expect(page).to_have_url(f"{live_server.url}/monitoring/alerts/")
    expect(page.get_by_test_id("alert-row").first).to_be_visible()
    screenshot(page, "4-desk-alerts")
