"""The duty roster from the browser (docs/duty.md): a duty officer puts the next officer on the roster from
the home page (desktop), ends her own shift with a handover, and the next officer acknowledges it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import expect

from duty.models import Handover
from tasks.models import DutyShift, Role, Unit
from tests.browser.conftest import login, nav
from tests.conftest import HOME_COUNTY
from tests.factories import UserFactory

DESKTOP = {"width": 1366, "height": 900}
BEIJING = ZoneInfo("Asia/Shanghai")


def test_edit_the_roster_hand_over_and_acknowledge(
    page, live_server, hainan, duty_officer, password, screenshot
):
    dora = UserFactory(username="dora", full_name="值班员乙", role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)
    desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=HOME_COUNTY)
    now = timezone.now().astimezone(BEIJING).replace(second=0, microsecond=0)
    mine = DutyShift.objects.create(
        unit=desk, user=duty_officer, starts_at=now - timedelta(hours=11), ends_at=now + timedelta(hours=1)
    )
    page.set_viewport_size(DESKTOP)
    login(page, live_server, duty_officer.username, password)

    # From the home page to the roster.
    nav(page, "值班", "排班")
    expect(page.get_by_test_id("on-shift")).to_contain_text("值班员甲")

    # Put dora on the next shift.
    form = page.get_by_test_id("add-shift")
    form.locator("select[name=user]").select_option(str(dora.pk))
    start, end = mine.ends_at.astimezone(BEIJING), mine.ends_at.astimezone(BEIJING) + timedelta(hours=12)
    form.locator("input[name=starts_at]").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=ends_at]").fill(end.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("班次已添加")
    expect(page.get_by_test_id("roster-week")).to_contain_text("值班员乙")
    nxt = DutyShift.objects.get(user=dora)
    assert nxt.starts_at == mine.ends_at
    screenshot(page, "roster")

    # An overlapping shift for dora is refused with the reason.
    form = page.get_by_test_id("add-shift")
    form.locator("select[name=user]").select_option(str(dora.pk))
    form.locator("input[name=starts_at]").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=ends_at]").fill((start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator(".messages .error")).to_contain_text("时间重叠")
    assert DutyShift.objects.filter(user=dora).count() == 1

    # End my shift with a handover.
    with page.expect_navigation():
        page.get_by_test_id(f"handover-{mine.pk}").click()
    expect(page.get_by_test_id("handover-figures")).to_be_visible()
    page.locator("textarea[name=notes]").fill("T12 仍未联系上，请继续跟进。")
    screenshot(page, "handover-form")
    with page.expect_navigation():
        page.get_by_test_id("handover-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("handover-notes")).to_contain_text("T12 仍未联系上")
    expect(page.get_by_test_id("acknowledge")).to_have_count(0)
    record = Handover.objects.get(shift=mine)

    # The next officer acknowledges it.
    page.context.clear_cookies()
    login(page, live_server, dora.username, password)
    page.goto(f"{live_server.url}/duty/handovers/")
    with page.expect_navigation():
        page.get_by_test_id("handover-list").locator("a").first.click()
    with page.expect_navigation():
        page.get_by_test_id("acknowledge").click()
    expect(page.get_by_test_id("acknowledgement")).to_contain_text("值班员乙")
    screenshot(page, "acknowledged")
    record.refresh_from_db()
    assert record.acknowledged_by == dora and record.acknowledged_at is not None


def test_the_workload_page_on_a_team_leaders_phone(page, live_server, crew, password, screenshot):
    """A team leader opens the workload from the home page at 360 px: nothing wider than the screen, and
    the suggestion's one-click form is there."""
    from tests.browser.conftest import PHONE
    from tests.workflow_fixtures import make_task

    bob, dan = crew["bob"], crew["dan"]
    for _ in range(4):
        task = make_task(status="received", assignee=bob)
        task.subunit = crew["subunit"]
        task.save()
    assert dan.pk
    page.set_viewport_size(PHONE["viewport"])
    login(page, live_server, crew["tina"].username, password)
    page.goto(f"{live_server.url}/")
    with page.expect_navigation():
        page.locator("main a", has_text="工作量").first.click()
    expect(page.get_by_test_id("suggestion")).to_have_count(1)
    expect(page.get_by_test_id("apply-suggestion")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    screenshot(page, "workload-phone")
