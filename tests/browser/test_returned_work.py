"""Returned work on the phone: the field user finds the returned task first in "my tasks" with the
expert's reasons, opens it and reads the reasons, the resubmit deadline and each comment beside its
entry, and fills a trajectory entry's coordinates from the phone's location."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tasks.models import TracingTask
from tests.browser.conftest import PHONE, login


@pytest.fixture
def demo(hainan):
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


def test_the_field_user_reads_why_a_task_came_back(demo, new_context, live_server, screenshot):
    from reports.management.commands.seed_demo import DEMO_PASSWORD

    returned = TracingTask.objects.get(status="returned")
    context = new_context(
        **PHONE, permissions=["geolocation"], geolocation={"latitude": 20.0291, "longitude": 110.3312}
    )
    page = context.new_page()
    login(page, live_server, "field", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/field/")
    first = page.get_by_test_id("field-task").first
    expect(first).to_have_attribute("data-task", str(returned.pk))
    expect(first.get_by_test_id("return-reasons")).to_contain_text("行程时间矛盾")
    screenshot(page, "my-tasks")

    first.locator("a").click()
    expect(page.get_by_test_id("return-reasons")).to_contain_text("同行人员不全")
    expect(page.get_by_test_id("returned")).to_contain_text("请补充同行人员姓名")
    expect(page.locator(".tl-entry [data-testid=entry-comment]")).to_contain_text("车次不符")
    expect(page.locator(".clocks")).to_contain_text("重新提交")
    screenshot(page, "returned-task")

    page.locator("#trajectory-summary").click()
    page.get_by_test_id("tl-locate").click()
    expect(page.locator("#tl-lat")).to_have_value("20.029100")
    expect(page.locator("#tl-lon")).to_have_value("110.331200")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # Search and filters of "my tasks" stay in the URL.
    page.goto(f"{live_server.url}/field/?status=returned")
    expect(page.get_by_test_id("field-task")).to_have_count(1)
    page.goto(f"{live_server.url}/field/?q=T{returned.pk}")
    expect(page.get_by_test_id("field-task")).to_have_count(1)
    context.close()
