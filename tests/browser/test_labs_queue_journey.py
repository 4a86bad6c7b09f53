"""The duty officer's unmatched lab results queue in the browser (docs/labs.md), at 1366 px: from the
navigation to the queue, find the person through the blind index, match; reject another with a reason;
the task page then shows the person's case status."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import LabResult
from tests.browser.conftest import login, nav
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.labs_fixtures import person_by_id, resident_id
from tests.workflow_fixtures import make_task


def _waiting(sample: str, result: str, **identity) -> LabResult:
    return LabResult.objects.create(
        lab="海口市疾控中心实验室",
        sample_id=sample,
        sampled_at=timezone.now() - timedelta(hours=3),
        test_type="nucleic_acid",
        result=result,
        division_id=HOME_COUNTY,
        **identity,
    )


def test_match_and_reject_from_the_queue(page, live_server, crew, password, screenshot):
    page.set_viewport_size({"width": 1366, "height": 900})
    person = person_by_id(resident_id(41), name="王五")
    task = make_task(HOME_VILLAGE, person=person, status="dispatched")
    positive = _waiting("S-0041", "positive", name="王五", id_number=resident_id(41))
    _waiting("S-0042", "negative", name="赵六")
    login(page, live_server, "alice", password)

    nav(page, "监测", "检测结果")
    expect(page.get_by_test_id("lab-row")).to_have_count(2)
    expect(page.locator("h1")).to_have_text("未匹配检测结果")
    screenshot(page, "queue")

    page.locator(f"[data-result='{positive.pk}'] [data-testid=lab-match-link]").click()
    expect(page.get_by_test_id("lab-candidate")).to_have_count(1)
    screenshot(page, "match")
    with page.expect_navigation():
        page.get_by_test_id("lab-match").click()
    expect(page.get_by_test_id("lab-row")).to_have_count(1)

    page.get_by_test_id("lab-match-link").click()
    page.locator("#lab-reason").fill("样本信息不全，无法核实")
    with page.expect_navigation():
        page.get_by_test_id("lab-reject").locator("button[type=submit]").click()
    expect(page.get_by_test_id("lab-queue-empty")).to_be_visible()

    page.goto(f"{live_server.url}/tasks/{task.pk}/")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_test_id("case-status")).to_have_text("确诊病例")
    screenshot(page, "task-case-status")
