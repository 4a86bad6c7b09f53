"""Supervision orders in a real browser: a commander issues an order on the desktop, the owner team's
leader acknowledges, replies and completes it on a 360 px phone, the commander accepts it.
Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

from playwright.sync_api import expect

from duty.models import SupervisionOrder
from tests.browser.conftest import login, nav
from tests.factories import TracingTaskFactory


def _fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a phone ({width}px)"


def test_a_commander_issues_the_owner_answers_on_a_phone_and_the_commander_accepts(
    page, phone_page, live_server, hainan, commander, led_team, password, screenshot
):
    task = TracingTaskFactory(division_id="460105001001")
    leader = led_team.leader
    page.set_viewport_size({"width": 1366, "height": 900})

    # The commander, from the home page: 督办 → 下达督办.
    login(page, live_server, commander.username, password)
    nav(page, "值班", "督办")
    expect(page.get_by_role("heading", name="督办事项")).to_be_visible()
    page.get_by_test_id("order-new").click()
    form = page.get_by_test_id("order-form")
    form.locator("#order-title").fill("秀英街道红码人员核查督办")
    form.locator("#order-text").fill("请于今日内核查关联任务的红码人员并反馈结果。")
    form.locator("#order-priority").select_option("urgent")
    form.locator("#order-owner-unit").select_option(str(led_team.pk))
    form.locator("#order-tasks").fill(f"T{task.pk}")
    form.locator("[data-picker-input]").fill("秀英街道")
    form.get_by_role("button", name="秀英街道 (460105001)").click()
    expect(form.locator("[data-picker-code]")).to_have_value("460105001")
    screenshot(page, "1-commander-issues")
    form.get_by_test_id("order-submit").click()
    expect(page.get_by_test_id("order-state")).to_have_text("已下达")
    expect(page.get_by_test_id("order-tasks").get_by_role("link", name=f"T{task.pk}")).to_have_attribute(
        "href", f"/tasks/{task.pk}/"
    )
    screenshot(page, "2-order-issued")
    order = SupervisionOrder.objects.get()
    assert order.owner_unit == led_team and order.priority == "urgent"

    # The team leader on a phone: 督办 → the order → 签收, a progress reply, 办结.
    login(phone_page, live_server, leader.username, password)
    nav(phone_page, "值班", "督办")
    card = phone_page.get_by_test_id("order-row").filter(has_text="秀英街道红码人员核查督办")
    expect(card).to_be_visible()
    _fits_the_phone(phone_page)
    screenshot(phone_page, "3-leader-list-phone")
    card.get_by_role("link", name="秀英街道红码人员核查督办").click()
    phone_page.get_by_test_id("action-acknowledge").click()
    expect(phone_page.get_by_test_id("order-state")).to_have_text("已签收")
    phone_page.locator("#reply-text").fill("已电话联系2人，1人已上门核查。")
    phone_page.get_by_test_id("action-reply").click()
    expect(phone_page.get_by_test_id("order-state")).to_have_text("办理中")
    _fits_the_phone(phone_page)
    screenshot(phone_page, "4-leader-replied-phone")
    phone_page.locator("#complete-text").fill("全部核查完毕，均为阴性。")
    phone_page.get_by_test_id("action-complete").click()
    expect(phone_page.get_by_test_id("order-state")).to_have_text("已办结")
    expect(phone_page.get_by_test_id("order-thread")).to_contain_text("已电话联系2人")
    _fits_the_phone(phone_page)
    screenshot(phone_page, "5-leader-completed-phone")

    # The commander sees it completed (and was notified) and accepts.
    page.reload()
    expect(page.get_by_test_id("order-state")).to_have_text("已办结")
    page.get_by_test_id("action-accept").click()
    expect(page.get_by_test_id("order-state")).to_have_text("已验收")
    screenshot(page, "6-commander-accepted")
    order.refresh_from_db()
    assert order.state == "accepted"
    page.get_by_test_id("inbox").click()
    expect(page.get_by_test_id("notifications")).to_contain_text("已办结")
    screenshot(page, "7-commander-inbox")
