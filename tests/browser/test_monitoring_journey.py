"""Health monitoring in a real browser: the sub-unit's "due today" list on a 360 px phone (five people
normal in five taps, one abnormal check-in with the full form, one check-in sent offline and recorded
once when the network returns), a person checking in through their own link, and the duty desk on a
desktop seeing the abnormal alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import links
from monitoring.clock import local_day
from monitoring.models import CheckIn, MonitoringAlert, MonitoringPeriod
from tests.browser.conftest import PHONE, login, nav
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import make_task

NAMES = ["王一", "李二", "张三", "赵四", "钱五", "孙六", "周七", "吴八"]


@pytest.fixture
def monitored(crew):
    """Eight persons of the home village in their third day of health monitoring."""
    now = timezone.now()
    periods = []
    for name in NAMES:
        task = make_task(status="approved")
        task.person.name = name
        task.person.save()
        periods.append(make_period(task, starts_on=local_day(now) - timedelta(days=2), now=now))
    return periods


def row(page, period):
    return page.locator(f'[data-testid=due-person][data-period="{period.pk}"]')


def fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide on a 360 px phone"


def test_the_village_checks_in_on_a_phone_the_person_by_link_the_desk_sees_the_alert(
    new_context, page, live_server, crew, monitored, password, screenshot
):
    phone = new_context(**PHONE)
    bob_page = phone.new_page()
    login(bob_page, live_server, crew["bob"].username, password)

    # From "my tasks" to the village's "due today" list.
    bob_page.goto(f"{live_server.url}/field/")
    bob_page.get_by_test_id("due-today-link").click()
    expect(bob_page.get_by_test_id("due-person")).to_have_count(len(NAMES))
    expect(bob_page.get_by_test_id("due-person").first).to_contain_text("第 3 天，共 14 天")
    fits_the_phone(bob_page)
    screenshot(bob_page, "1-due-today")

    # Five people are well: one tap each.
    for period in monitored[:5]:
        row(bob_page, period).get_by_test_id("normal").click()
        expect(row(bob_page, period)).to_have_attribute("data-state", "done")
    assert CheckIn.objects.filter(period__in=monitored[:5], channel="field", abnormal=False).count() == 5
    expect(bob_page.get_by_test_id("done-count")).to_have_text("5")
    screenshot(bob_page, "2-five-normal")

    # One has a fever and a cough: the full form.
    sick = monitored[5]
    card = row(bob_page, sick)
    card.get_by_test_id("full-form-open").click()
    form = card.get_by_test_id("full-form")
    form.locator("[name=temperature]").fill("38.2")
    form.locator("label.choice", has=bob_page.locator("input[value=cough]")).click()
    form.locator("[name=location]").fill("家中")
    screenshot(bob_page, "3-full-form")
    form.locator("button[type=submit]").click()
    expect(card).to_have_attribute("data-state", "abnormal")
    expect(card.get_by_test_id("checkin-status")).to_contain_text("异常")
    checkin = CheckIn.objects.get(period=sick)
    assert checkin.abnormal and checkin.symptoms == ["cough"] and str(checkin.temperature) == "38.2"
    screenshot(bob_page, "4-abnormal")

    # No network: the next check-in waits on the phone, then is sent once when the network returns.
    offline = monitored[6]
    card = row(bob_page, offline)
    phone.set_offline(True)
    card.get_by_test_id("full-form-open").click()
    form = card.get_by_test_id("full-form")
    form.locator("[name=temperature]").fill("36.7")
    form.locator("button[type=submit]").click()
    expect(card).to_have_attribute("data-state", "waiting")
    expect(bob_page.get_by_test_id("outbox")).to_be_visible()
    expect(bob_page.get_by_test_id("outbox-item")).to_have_count(1)
    assert not CheckIn.objects.filter(period=offline).exists()
    fits_the_phone(bob_page)
    screenshot(bob_page, "5-offline-waiting")
    phone.set_offline(False)
    expect(card).to_have_attribute("data-state", "done", timeout=15000)
    expect(bob_page.get_by_test_id("outbox")).to_be_hidden()
    assert CheckIn.objects.filter(period=offline).count() == 1
    screenshot(bob_page, "6-sent-when-online")
    # A reload shows the list as the server has it: seven of eight checked in, still one record each.
    bob_page.reload()
    expect(bob_page.locator("[data-testid=due-person][data-state=due]")).to_have_count(1)
    assert CheckIn.objects.filter(period=offline).count() == 1

    # The eighth person checks in through their own link: no login, only their masked name.
    person = monitored[7]
    links.ensure_tokens([person.pk])
    own_phone = new_context(**PHONE).new_page()
    own_phone.goto(f"{live_server.url}/c/{links.token_for(person)}/")
    expect(own_phone.get_by_test_id("person-name")).to_have_text("吴*")
    assert "吴八" not in own_phone.content()
    own_phone.locator("[name=temperature]").fill("36.4")
    own_phone.get_by_test_id("person-submit").click()
    expect(own_phone.get_by_test_id("checked-in")).to_be_visible()
    fits_the_phone(own_phone)
    screenshot(own_phone, "7-personal-link")
    assert CheckIn.objects.get(period=person).channel == "person"

    # The duty desk, on a desktop: the abnormal alert, from the navigation.
    login(page, live_server, crew["alice"].username, password)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.get_by_test_id("monitoring-alerts-count")).to_have_text("1")
    expect(page.get_by_test_id("monitoring-alert-count")).to_have_text("1")
    screenshot(page, "8-dashboard-tile")
    nav(page, "监测", "监测预警")
    alert_rows = page.get_by_test_id("alert-row")
    expect(alert_rows).to_have_count(1)
    expect(alert_rows.first).to_contain_text("孙六")
    expect(alert_rows.first).to_contain_text("38.2")
    screenshot(page, "9-duty-desk-alerts")
    alert_rows.first.get_by_test_id("alert-period").click()
    expect(page.get_by_test_id("checkin-row")).to_have_count(1)
    screenshot(page, "10-period-page")
    assert (
        MonitoringAlert.objects.filter(period=sick, kind="abnormal", acknowledged_at__isnull=True).count()
        == 1
    )


def test_the_sub_unit_releases_a_person_on_a_phone_and_gets_the_notice(
    new_context, live_server, crew, password, screenshot
):
    """The last day of a period: from the village's "due today" list to the period page by clicks, the
    release card, the release, and the release notice's PDF link."""
    now = timezone.now()
    task = make_task(status="approved")
    task.person.name = "郑九"
    task.person.save()
    period = make_period(task, starts_on=local_day(now) - timedelta(days=13), now=now)

    phone = new_context(**PHONE)
    bob_page = phone.new_page()
    login(bob_page, live_server, crew["bob"].username, password)
    bob_page.goto(f"{live_server.url}/field/")
    bob_page.get_by_test_id("due-today-link").click()
    row(bob_page, period).get_by_test_id("person-name").click()

    card = bob_page.get_by_test_id("release")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text("解除监测")
    expect(bob_page.get_by_test_id("period-summary")).to_contain_text("第 14 天，共 14 天")
    expect(bob_page.get_by_test_id("release-blockers")).to_have_count(0)
    fits_the_phone(bob_page)
    screenshot(bob_page, "release-1-card")

    card.locator("[name=note]").fill("14 天期满，核酸阴性")
    card.get_by_test_id("release-button").click()
    expect(bob_page.get_by_test_id("period-state")).to_have_text("已解除")
    expect(bob_page.locator("ul.messages")).to_contain_text("已解除")
    expect(bob_page.get_by_test_id("release")).to_have_count(0)
    pdf_link = bob_page.get_by_test_id("release-pdf")
    expect(pdf_link).to_be_visible()
    expect(pdf_link).to_have_text("打印解除告知书")
    released_at = timezone.localtime(MonitoringPeriod.objects.get(pk=period.pk).released_at)
    expect(bob_page.get_by_test_id("period-summary")).to_contain_text(released_at.strftime("%Y-%m-%d %H:%M"))
    fits_the_phone(bob_page)
    screenshot(bob_page, "release-2-released")

    response = bob_page.request.get(f"{live_server.url}{pdf_link.get_attribute('href')}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    released = MonitoringPeriod.objects.get(pk=period.pk)
    assert released.state == "released" and released.released_by == crew["bob"]
