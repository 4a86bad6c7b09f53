"""A close contact with a passport, recorded by a grid worker on a 360 px phone from the task page."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from tasks.models import CloseContact
from tasks.validation import id_number_hash
from tests.browser.conftest import PHONE, login, nav
from tests.fieldwork_helpers import dispatched_task

WIDEST = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"


def test_a_grid_worker_records_a_passport_close_contact_on_a_phone(
    new_context, live_server, field_staff, password, screenshot
):
    task = dispatched_task(field_staff)
    page = new_context(**PHONE).new_page()
    login(page, live_server, field_staff.username, password)
    nav(page, "任务", "我的任务")
    page.locator(f"[data-testid=field-task][data-task='{task.pk}'] a").first.click()

    form = page.get_by_test_id("contact-form")
    page.locator("details").filter(has=form).locator("summary").click()
    expect(form).to_be_visible()
    expect(form.get_by_label("证件类型")).to_have_value("resident_id")
    form.get_by_label("姓名").fill("John Smith")
    form.get_by_label("证件类型").select_option(label="护照")
    # A number too short for a passport: refused, the field named, nothing typed is lost.
    form.get_by_label("证件号码").fill("e12")
    form.get_by_label("电话").fill("+852 9123 4567")
    form.locator("[name=relation]").select_option("colleague")
    when = timezone.localtime(timezone.now() - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    form.locator("[name=last_contact_at]").fill(when)
    form.locator("[name=last_contact_place]").fill("酒店大堂")
    form.get_by_role("button", name="保存密接").click()
    error = form.locator("#cc-id + .field-error")
    expect(error).to_contain_text("护照号码")
    expect(form.get_by_label("证件类型")).to_have_value("passport")
    expect(form.get_by_label("电话")).to_have_value("+852 9123 4567")
    expect(form.get_by_label("姓名")).to_have_value("John Smith")
    assert page.evaluate(WIDEST) <= 360
    form.get_by_label("姓名").scroll_into_view_if_needed()
    screenshot(page, "1-refused", full_page=False)

    form.get_by_label("证件号码").fill("e1234 5678")
    form.get_by_role("button", name="保存密接").click()
    shown = page.get_by_test_id("contact-document")
    expect(shown).to_have_text("护照 E12345678")
    assert page.evaluate(WIDEST) <= 360
    page.get_by_test_id("contact-list").scroll_into_view_if_needed()
    screenshot(page, "2-recorded", full_page=False)

    record = CloseContact.objects.select_related("lead").get(task=task)
    assert record.lead.id_type == "passport" and record.id_number == "E12345678"
    assert record.lead.id_number_hash == id_number_hash("passport|E12345678")
    assert record.phone == "+85291234567"
