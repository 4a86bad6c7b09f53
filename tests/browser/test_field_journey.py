"""Issue 5 in a real browser on a phone-sized screen: a grid worker works a task from "my tasks" to
"submitted for review", with a stretch without network in the middle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tasks.models import (
    CloseContact,
    ContactAttempt,
    RadiusControl,
    TaskStatus,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from tests.browser.conftest import PHONE, login
from tests.fieldwork_helpers import dispatched_task

HAIKOU = {"latitude": 20.0231, "longitude": 110.2012}


@pytest.fixture
def field_phone(new_context):
    """bob's phone: 360 px wide, touch, location allowed."""
    context = new_context(**PHONE, geolocation=HAIKOU, permissions=["geolocation"])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return context, page


def local(minutes_ago: int) -> str:
    return timezone.localtime(timezone.now() - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M")


def open_form(page, testid: str):
    form = page.get_by_test_id(testid)
    details = page.locator("details").filter(has=form)
    if not details.evaluate("d => d.open"):
        details.locator("summary").click()
    expect(form).to_be_visible()
    return form


def add_entry(page, place: str, start: int, end: int, **extra):
    form = open_form(page, "trajectory-form")
    form.locator("[name=started_at]").fill(local(start))
    form.locator("[name=ended_at]").fill(local(end))
    form.locator("[name=place_name]").fill(place)
    form.locator("[name=address]").fill(extra.get("address", "秀英区某路1号"))
    form.locator("[name=activity]").fill(extra.get("activity", "购物"))
    form.locator("[name=transport]").select_option(extra.get("transport", "bus"))
    form.locator("[name=vehicle_number]").fill(extra.get("vehicle", "37路"))
    form.locator("[name=companions]").fill(extra.get("companions", "无"))
    form.locator("button[type=submit]").click()


def add_contact(page, name: str, phone: str):
    form = open_form(page, "contact-form")
    form.locator("[name=name]").fill(name)
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=relation]").select_option("colleague")
    form.locator("[name=last_contact_at]").fill(local(600))
    form.locator("[name=last_contact_place]").fill("办公室")
    form.locator("button[type=submit]").click()


def test_a_field_worker_works_a_task_on_a_phone_offline_and_online(
    field_phone, live_server, field_staff, password, screenshot
):
    context, page = field_phone
    task = dispatched_task(field_staff)
    task.person.phone = "13912345678"
    task.person.save()
    other = dispatched_task(field_staff)
    TracingTask.objects.filter(pk=other.pk).update(radius_due=timezone.now() + timedelta(hours=4))

    # Logs in on the phone and sees their tasks, nearest deadline first, with a countdown.
    login(page, live_server, field_staff.username, password)
    page.goto(f"{live_server.url}/field/")
    cards = page.get_by_test_id("field-task")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("data-task", str(task.pk))
    expect(cards.first.locator(".countdown")).not_to_be_empty()
    screenshot(page, "1-my-tasks")

    cards.first.locator("a").click()
    expect(page.get_by_test_id("call")).to_have_attribute("href", "tel:13912345678")
    screenshot(page, "2-task")

    # A contact attempt: the phone call reached the person.
    form = open_form(page, "attempt-form")
    form.locator("label.choice", has=page.locator("input[name=reached][value=true]")).click()
    form.locator("[name=note]").fill("电话接通，本人在家")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("attempt-list").locator("li")).to_have_count(1)

    # Radius limited: where the person is (village + the phone's location) and home isolation.
    form = open_form(page, "radius-form")
    form.locator("[name=address]").fill("秀华路1号3栋201")
    form.get_by_test_id("locate").click()
    expect(form.locator(".geo-status")).to_contain_text("20.0231")
    form.locator("label.choice", has=page.locator("input[name=measure][value=home_isolation]")).click()
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("radius-list").locator("li")).to_have_count(1)
    task.refresh_from_db()
    assert task.status == TaskStatus.RADIUS_LIMITED and task.radius_limited_at is not None
    radius = RadiusControl.objects.get(task=task)
    assert float(radius.latitude) == pytest.approx(HAIKOU["latitude"], abs=1e-5)

    # Three trajectory entries, shown as a timeline.
    timeline = page.get_by_test_id("timeline").locator("li.tl-entry:not(.pending)")
    add_entry(page, "友谊超市", 600, 540)
    expect(timeline).to_have_count(1)
    add_entry(page, "海口东站", 500, 470, transport="train", vehicle="D7311")
    expect(timeline).to_have_count(2)
    add_entry(page, "秀英菜市场", 400, 360, transport="walk", vehicle="")
    expect(timeline).to_have_count(3)
    page.get_by_test_id("timeline").scroll_into_view_if_needed()
    screenshot(page, "3-timeline")

    # Two close contacts and a test result.
    add_contact(page, "李四", "13907551234")
    expect(page.get_by_test_id("contact-list").locator("li")).to_have_count(1)
    add_contact(page, "赵六", "13907555678")
    expect(page.get_by_test_id("contact-list").locator("li")).to_have_count(2)
    form = open_form(page, "test-form")
    form.locator("[name=test_type]").select_option("nucleic_acid")
    form.locator("label.choice", has=page.locator("input[name=result][value=pending]")).click()
    form.locator("[name=lab]").fill("海口市疾控中心")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("test-list").locator("li")).to_have_count(1)

    # The network goes away: the next entry is kept on the phone and shown as waiting.
    context.set_offline(True)
    add_entry(page, "离线记录的药店", 300, 280, transport="walk", vehicle="")
    outbox = page.get_by_test_id("outbox")
    expect(outbox).to_be_visible()
    expect(outbox.get_by_test_id("outbox-item")).to_have_count(1)
    expect(page.get_by_test_id("pending-entry")).to_have_count(1)
    expect(page.locator("#net-status")).to_be_visible()
    assert TrajectoryEntry.objects.filter(task=task).count() == 3
    # Still offline, the page opens again from the phone (service worker), the waiting entry with it.
    page.reload()
    expect(page.get_by_test_id("pending-entry")).to_have_count(1)
    expect(page.get_by_test_id("timeline").locator("li.tl-entry:not(.pending)")).to_have_count(3)
    page.get_by_test_id("outbox").scroll_into_view_if_needed()
    screenshot(page, "4-offline-waiting", full_page=False)

    # The network comes back: the entry is sent by itself, exactly once.
    context.set_offline(False)
    expect(page.get_by_test_id("timeline").locator("li.tl-entry:not(.pending)")).to_have_count(
        4, timeout=15000
    )
    expect(page.get_by_test_id("outbox")).to_be_hidden()
    places = [
        e.place_name for e in TrajectoryEntry.objects.filter(task=task)
    ]  # encrypted: compared in Python
    assert places.count("离线记录的药店") == 1
    assert TrajectoryEntry.objects.filter(task=task).count() == 4

    # Submit for review.
    form = page.get_by_test_id("submit-form")
    form.locator("[name=note]").fill("已完成流调")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("not-editable")).to_be_visible()
    task.refresh_from_db()
    assert task.status == TaskStatus.SUBMITTED and task.traced_at is not None
    assert ContactAttempt.objects.filter(task=task).count() == 1
    assert CloseContact.objects.filter(task=task, lead__source="close_contact").count() == 2
    assert TestResult.objects.filter(task=task).count() == 1
    screenshot(page, "5-submitted")

    # Back on "my tasks" only the other task is left to do.
    page.goto(f"{live_server.url}/field/")
    expect(page.get_by_test_id("field-task")).to_have_count(1)
