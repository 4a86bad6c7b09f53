"""The monitoring statistics page in Chromium, reached by clicks from the home page: the commander at
1366 px, the team leader on a 360 px phone (nothing wider than the screen), in Chinese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.services.checkins import record_checkin
from tests.browser.conftest import PHONE, login, nav
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import make_task

DESKTOP = {"viewport": {"width": 1366, "height": 900}}


def _periods():
    today = timezone.localdate()
    made = timezone.now() - timedelta(days=3)
    first = make_period(make_task(status="approved"), starts_on=today - timedelta(days=3), now=made)
    make_period(make_task(status="approved"), starts_on=today - timedelta(days=3), now=made)
    record_checkin(first, channel="field", temperature="38.2", symptoms=["cough"])


@pytest.mark.parametrize(("account", "context"), [("commander", DESKTOP), ("team_leader", PHONE)])
def test_the_monitoring_statistics_by_clicks_from_home(
    request, new_context, live_server, hainan, password, screenshot, account, context
):
    _periods()
    user = request.getfixturevalue(account)
    page = new_context(**context).new_page()
    login(page, live_server, user.username, password)
    nav(page, "统计", "统计")
    page.get_by_test_id("nav-monitoring-stats").click()
    expect(page.get_by_role("heading", name="健康监测统计")).to_be_visible()
    figures = page.get_by_test_id("monitoring-figures")
    expect(figures).to_contain_text("当前监测人数")
    expect(figures).to_contain_text("今日异常")
    expect(page.get_by_test_id("monitoring-execution")).to_contain_text("执行率")
    if context is PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, account)
