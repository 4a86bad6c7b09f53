"""The likely-duplicate queue in the browser (docs/people.md): the duty officer opens it from the
navigation, runs the search, merges one pair keeping the second person and dismisses the others, one of
them found by the same name and birth date from two different ID numbers."""

from __future__ import annotations

from playwright.sync_api import expect

from tasks.models import DuplicateCandidate, TracingTask
from tests.browser.conftest import login, nav
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import PersonFactory
from tests.intake_helpers import resident_id
from tests.workflow_fixtures import make_task


def _open_task(name: str, phone: str, village: str = HOME_VILLAGE, id_number: str = "") -> TracingTask:
    person = PersonFactory(name=name, phone=phone, id_number=id_number)
    return make_task(village, person=person, status="dispatched")


def test_the_duty_officer_merges_a_likely_duplicate_from_the_queue(
    page, live_server, hainan, duty_officer, password, screenshot
):
    first, second = _open_task("张伟", "13900000071"), _open_task("章伟", "13900000072")
    _open_task("刘洋", "13900000073"), _open_task("刘洋", "13900000073")
    born = _open_task("陈静", "13900000074", id_number=resident_id(birth="19700101", seq="111"))
    _open_task(
        "陈静", "13900000075", OTHER_VILLAGE_SAME_TOWNSHIP, id_number=resident_id(birth="19700101", seq="222")
    )
    login(page, live_server, duty_officer.username, password)

    nav(page, "任务", "疑似重复人员")
    expect(page.get_by_test_id("duplicates-empty")).to_be_visible()
    with page.expect_navigation():
        page.get_by_test_id("duplicate-scan").click()
    expect(page.get_by_test_id("duplicate")).to_have_count(3)
    pair = page.get_by_test_id("duplicate").filter(has_text=f"T{first.pk}")
    expect(pair).to_contain_text("同村姓名同音")
    expect(page.get_by_test_id("duplicate").filter(has_text=f"T{born.pk}")).to_contain_text(
        "姓名相同且证件出生日期相同（证件号码不同）"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    screenshot(page, "queue")

    with page.expect_navigation():
        pair.get_by_test_id("duplicate-keep").nth(1).click()
    expect(page.locator(".messages, .message, [role=status]").first).to_contain_text(f"T{second.pk}")
    first.refresh_from_db()
    assert first.status == "merged" and first.merged_into_id == second.pk

    for _ in range(2):
        with page.expect_navigation():
            page.get_by_test_id("duplicate").first.get_by_test_id("duplicate-dismiss").click()
    expect(page.get_by_test_id("duplicates-empty")).to_be_visible()
    screenshot(page, "after")
    assert set(DuplicateCandidate.objects.values_list("state", flat=True)) == {"merged", "dismissed"}
