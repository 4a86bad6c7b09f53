"""The whole loop in the browser, clicks only after login: every part starts at the login page (the one
address typed) and goes on by clicking what a person sees, with the demo accounts and data of
`seed_demo`. Screenshots of every step: test-artifacts/screenshots/test_the_whole_loop*-NN-*.png.

1. The duty officer uploads a CSV of one lead, runs intake now and opens the new task's page.
2. The field worker, on a 360 px phone: my tasks → the task → confirm receipt → contact, radius,
   trajectory, a close contact, a test → submit.
3. The CDC expert returns it with a comment on an entry and reasons; the field worker sees the reasons
   and the comment beside the entry and resubmits; the expert approves with one day of home quarantine.
4. The notice: the county desk passes it on, the city desk approves it, it is pushed, and the person
   acknowledges it on their phone from the SMS link.
5. The field worker checks the person in from "due today" and releases them from the period page.
   The release closes the task (outcome "released").
6. The duty officer finds the person by ID number in the top bar's search and sees the closed task.

What a worker process does between the clicks (the notice generation from approved disposals, the
push) is called here as the worker would; the clock stands at 09:30 Beijing time of today, so that the
check-in is due today whenever the test runs. The administrator's onboarding from a CSV, with the
activation from the slip, is the clicks-only journey of test_accounts_journey.py.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from monitoring.models import MonitoringPeriod
from notices.links import token_for
from notices.models import Notice, NoticeState
from tasks.models import TaskStatus, TracingTask, TrajectoryEntry
from tests.browser.conftest import PHONE, login, nav
from tests.browser.test_field_journey import add_contact, add_entry, open_form

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
HOME_VILLAGE = "460105001001"  # the demo field worker's village


def id_number(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


ID_NUMBER = id_number("46010519910203456")
NAME = "陈全程"
CSV = (
    "source,external_id,id_number,name,phone,division_code,address,reason,reported_at\n"
    f"red_code,LOOP-1,{ID_NUMBER},{NAME},13912340001,{HOME_VILLAGE},秀英区海秀路1号,红码人员,"
    "2026-12-06T09:00:00+08:00\n"
)


@pytest.fixture
def morning():
    """09:30 in Beijing today, ticking: a check-in is due today, a notice is pushed in the day."""
    shanghai = ZoneInfo("Asia/Shanghai")
    today = datetime.now(shanghai).date()
    with time_machine.travel(datetime.combine(today, time(9, 30), tzinfo=shanghai), tick=True):
        yield


@pytest.fixture
def demo(morning, hainan, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide on a 360 px phone"


def step(screenshot, page, name: str) -> None:
    step.n = getattr(step, "n", 0) + 1
    screenshot(page, f"{step.n:02d}-{name}")


def test_the_whole_loop_by_clicks(demo, new_context, live_server, screenshot, tmp_path, settings):
    from reports.management.commands.seed_demo import DEMO_PASSWORD

    settings.MEDIA_ROOT = str(tmp_path)
    step.n = 0
    desk = new_context(**DESKTOP).new_page()
    phone = new_context(**PHONE).new_page()
    phone.on("dialog", lambda dialog: dialog.accept())
    # The browsers' clocks stand where the server's does: the field forms send their own times, which
    # the server refuses when they lie ahead of its clock.
    for page in (desk, phone):
        page.context.clock.set_system_time(datetime.now(ZoneInfo("Asia/Shanghai")))

    # 1. Upload, intake now, the task page.
    login(desk, live_server, "duty", DEMO_PASSWORD)
    step(screenshot, desk, "duty-home")
    nav(desk, "任务", "线索汇聚")
    desk.get_by_role("link", name="上传文件").first.click()
    leads = tmp_path / "leads.csv"
    leads.write_text(CSV, encoding="utf-8")
    desk.locator("input[type=file]").set_input_files(str(leads))
    with desk.expect_navigation():
        desk.get_by_test_id("upload-form").locator("button[type=submit]").click()
    step(screenshot, desk, "upload-preview")
    with desk.expect_navigation():
        desk.get_by_test_id("confirm-upload").first.click()
    step(screenshot, desk, "upload-done")
    nav(desk, "任务", "线索汇聚")
    with desk.expect_navigation():
        desk.get_by_test_id("intake-run-now").locator("button").click()
    expect(desk.locator(".messages")).to_be_visible()
    step(screenshot, desk, "intake-run-now")
    task = TracingTask.objects.get(leads__external_id="LOOP-1")
    nav(desk, "任务", "任务列表")
    desk.get_by_test_id("task-link").filter(has_text=re.compile(rf"^T{task.pk}$")).click()
    expect(desk.get_by_test_id("task-title")).to_contain_text(f"T{task.pk}")
    step(screenshot, desk, "task-page")

    # 2. The field worker on a phone: receipt, field work, submit.
    login(phone, live_server, "field", DEMO_PASSWORD)
    nav(phone, "任务", "我的任务")
    card = (
        phone.get_by_test_id("field-task")
        .filter(has=phone.locator(f'[data-task="{task.pk}"]'))
        .or_(phone.locator(f'[data-testid=field-task][data-task="{task.pk}"]'))
    )
    expect(card.first).to_be_visible()
    fits(phone)
    step(screenshot, phone, "field-my-tasks")
    card.first.locator("a").first.click()
    phone.get_by_test_id("receive").click()
    expect(phone.get_by_test_id("receive-form")).to_have_count(0)
    assert TracingTask.objects.get(pk=task.pk).status == TaskStatus.RECEIVED
    fits(phone)
    step(screenshot, phone, "field-received")

    # Contact attempt, radius, one trajectory entry, a close contact and a test, then submit.
    form = open_form(phone, "attempt-form")
    form.locator("label.choice", has=phone.locator("input[name=reached][value=true]")).click()
    form.locator("[name=note]").fill("电话接通，本人在家")
    form.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("attempt-list").locator("li")).to_have_count(1)
    form = open_form(phone, "radius-form")
    form.locator("[name=address]").fill("秀华路1号3栋201")
    form.locator("label.choice", has=phone.locator("input[name=measure][value=home_isolation]")).click()
    form.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("radius-list").locator("li")).to_have_count(1)
    add_entry(phone, "友谊超市", 600, 540)
    timeline = phone.get_by_test_id("timeline").locator("li.tl-entry:not(.pending)")
    expect(timeline).to_have_count(1)
    add_contact(phone, "李密接", "13907551234")
    expect(phone.get_by_test_id("contact-list").locator("li")).to_have_count(1)
    form = open_form(phone, "test-form")
    form.locator("[name=test_type]").select_option("nucleic_acid")
    form.locator("label.choice", has=phone.locator("input[name=result][value=negative]")).click()
    form.locator("[name=lab]").fill("海口市疾控中心")
    form.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("test-list").locator("li")).to_have_count(1)
    fits(phone)
    step(screenshot, phone, "field-work")
    form = phone.get_by_test_id("submit-form")
    form.locator("[name=note]").fill("已完成流调")
    form.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("not-editable")).to_be_visible()
    assert TracingTask.objects.get(pk=task.pk).status == TaskStatus.SUBMITTED
    step(screenshot, phone, "field-submitted")

    # 3. The expert returns it with a comment on the entry and reasons.
    expert = new_context(**DESKTOP).new_page()
    login(expert, live_server, "expert", DEMO_PASSWORD)
    nav(expert, "审核与告知", "审核队列")
    expert.get_by_role("link", name=f"T{task.pk}", exact=True).first.click()
    step(screenshot, expert, "review")
    expert.get_by_test_id("claim").click()
    expect(expert.get_by_test_id("review-state")).to_have_attribute("data-state", "claimed")
    supermarket = TrajectoryEntry.objects.get(task=task)
    entry = expert.locator(f"#trajectory-{supermarket.pk}")
    entry.locator("details.comment-on-entry summary").click()
    entry.locator("textarea[name=body]").fill("请补充离开超市的时间和交通方式")
    entry.get_by_role("button").click()
    expect(entry.get_by_test_id("entry-comment")).to_contain_text("交通方式")
    expert.get_by_test_id("return-form").locator("textarea[name=reasons]").fill(
        "行程记录不完整，请补充后重新提交"
    )
    step(screenshot, expert, "review-return")
    expert.get_by_test_id("return").click()
    expect(expert).to_have_url(re.compile(r"/reviews/$"))
    assert TracingTask.objects.get(pk=task.pk).status == TaskStatus.RETURNED

    # The field worker: the returned task first, with the reasons and the comment beside the entry.
    nav(phone, "任务", "我的任务")
    # Returned tasks come first (the demo has one returned already): ours is among them, with its reasons.
    mine = phone.locator(f'[data-testid=field-task][data-task="{task.pk}"]')
    expect(mine).to_contain_text("行程记录不完整")
    cards = phone.get_by_test_id("field-task")
    returned = [("已退回" in text) for text in cards.all_inner_texts()]
    assert returned == sorted(returned, reverse=True), returned
    fits(phone)
    step(screenshot, phone, "field-returned-first")
    mine.locator("a").first.click()
    expect(phone.get_by_test_id("return-reasons")).to_contain_text("行程记录不完整")
    expect(phone.get_by_test_id("entry-comment").first).to_contain_text("交通方式")
    fits(phone)
    step(screenshot, phone, "field-reasons")
    form = phone.get_by_test_id("submit-form")
    form.locator("[name=note]").fill("已补充：步行离开，约 10:00")
    form.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("not-editable")).to_be_visible()
    assert TracingTask.objects.get(pk=task.pk).status == TaskStatus.SUBMITTED
    step(screenshot, phone, "field-resubmitted")

    # The expert approves the second round: one day of home quarantine, the person notified.
    nav(expert, "审核与告知", "审核队列")
    expert.get_by_role("link", name=f"T{task.pk}", exact=True).first.click()
    if expert.get_by_test_id("claim").count():
        expert.get_by_test_id("claim").click()
    form = expert.get_by_test_id("approve-form")
    form.locator("select[name=measure]").select_option("home_quarantine")
    form.locator("input[name=measure_days]").fill("1")
    form.locator("input[name=test_schedule_days]").fill("")
    step(screenshot, expert, "approve")
    expert.get_by_test_id("approve").click()
    expect(expert).to_have_url(re.compile(r"/reviews/$"))
    assert TracingTask.objects.get(pk=task.pk).status == TaskStatus.APPROVED

    # 4. The notice: generated by the worker, passed on by the county desk, approved by the city desk.
    from notices.services.generation import notices_generate_from_proposals
    from notices.services.push import push_step

    notices_generate_from_proposals()
    notice = Notice.objects.get(person=task.person)
    nav(desk, "审核与告知", "告知")
    desk.locator("nav.subnav").get_by_role("link", name="县级审核").click()
    desk.locator(f'[data-testid=notice-row][data-notice="{notice.pk}"] a').click()
    step(screenshot, desk, "notice-county")
    desk.get_by_test_id("approve").click()
    expect(desk.locator(".messages")).to_be_visible()
    assert Notice.objects.get(pk=notice.pk).state == NoticeState.CITY_REVIEW
    city = new_context(**DESKTOP).new_page()
    login(city, live_server, "city", DEMO_PASSWORD)
    nav(city, "审核与告知", "告知")
    city.locator("nav.subnav").get_by_role("link", name="市级审核").click()
    city.locator(f'[data-testid=notice-row][data-notice="{notice.pk}"] a').click()
    step(screenshot, city, "notice-city")
    city.get_by_test_id("approve").click()
    expect(city.locator(".messages")).to_be_visible()
    notice.refresh_from_db()
    assert notice.state == NoticeState.APPROVED
    assert push_step(now=notice.push_after) >= 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.PUSHED

    # The person opens the link of the SMS on their phone and acknowledges.
    person = new_context(**PHONE).new_page()
    person.goto(f"{live_server.url}/n/{token_for(notice)}/")
    fits(person)
    step(screenshot, person, "notice-person")
    person.get_by_test_id("acknowledge").click()
    expect(person.get_by_test_id("acknowledged")).to_be_visible()
    assert Notice.objects.get(pk=notice.pk).state == NoticeState.ACKNOWLEDGED
    step(screenshot, person, "notice-acknowledged")

    # 5. Monitoring: the field worker checks the person in from "due today", then releases them.
    period = MonitoringPeriod.objects.get(task=task)
    nav(phone, "监测", "今日打卡")
    card = phone.locator(f'[data-testid=due-person][data-period="{period.pk}"]')
    card.get_by_test_id("normal").click()
    expect(card).to_have_attribute("data-state", "done")
    fits(phone)
    step(screenshot, phone, "checkin")
    card.get_by_test_id("person-name").click()
    step(screenshot, phone, "period")
    phone.get_by_test_id("release-button").click()
    expect(phone.get_by_test_id("release-pdf")).to_be_visible()
    period.refresh_from_db()
    assert period.state == "released"
    fits(phone)
    step(screenshot, phone, "released")

    # 6. Search by ID number, then close the task on its page.
    search = desk.get_by_test_id("top-search").locator("input[name=q]")
    search.fill(ID_NUMBER)
    with desk.expect_navigation():
        search.press("Enter")
    row = desk.get_by_test_id("search-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-task", str(task.pk))
    step(screenshot, desk, "search")
    row.get_by_role("link", name=f"T{task.pk}").click()
    # The release closed the task with the outcome "released": its page says so, with the history.
    expect(desk.get_by_test_id("task-status")).to_have_attribute("data-status", "closed")
    expect(desk.get_by_test_id("task-outcome")).to_have_attribute("data-outcome", "released")
    expect(desk.get_by_test_id("close-form")).to_have_count(0)
    step(screenshot, desk, "closed")
