"""Ending tasks from the browser (docs/worktypes.md): the duty officer closes, reopens and cancels a task
on its page, and merges two tasks of one person on the merge screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tasks.models import TaskKind, TracingTask
from tests.browser.conftest import login
from tests.conftest import HOME_VILLAGE
from tests.factories import TracingTaskFactory


def test_close_reopen_cancel_and_merge_from_the_browser(
    page, live_server, hainan, duty_officer, password, screenshot
):
    task = TracingTaskFactory(division_id=HOME_VILLAGE, kind=TaskKind.VERIFICATION, status="dispatched")
    other = TracingTaskFactory(division_id=HOME_VILLAGE, kind=TaskKind.INVESTIGATION, status="new")
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server, duty_officer.username, password)

    # From the task list to the task page.
    page.goto(f"{live_server.url}/tasks/")
    page.get_by_test_id("task-link").filter(has_text=f"T{task.pk}").first.click()
    expect(page.get_by_test_id("task-kind")).to_have_attribute("data-kind", "verification")

    close = page.get_by_test_id("close-form")
    close.locator("select[name=outcome]").select_option("false_hit")
    with page.expect_navigation():
        close.locator("button[type=submit]").click()
    expect(page.get_by_test_id("task-status")).to_have_attribute("data-status", "closed")
    expect(page.get_by_test_id("task-outcome")).to_have_attribute("data-outcome", "false_hit")

    reopen = page.get_by_test_id("reopen-form")
    reopen.locator("input[name=reason]").fill("又收到线索")
    with page.expect_navigation():
        reopen.locator("button[type=submit]").click()
    expect(page.get_by_test_id("task-status")).to_have_attribute("data-status", "dispatched")
    expect(page.get_by_test_id("task-history")).to_contain_text("又收到线索")

    # Merge the other task into this one, on the side-by-side screen.
    with page.expect_navigation():
        page.get_by_test_id("merge-link").click()
    pick = page.get_by_test_id("merge-pick")
    pick.locator("input[name=merge]").fill(str(other.pk))
    with page.expect_navigation():
        pick.locator("button[type=submit]").click()
    expect(page.get_by_test_id("merge-compare").locator(".card")).to_have_count(2)
    screenshot(page, "merge")
    form = page.get_by_test_id("merge-form")
    form.locator("input[name=reason]").fill("同一人")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    # The kept task took the merged one's more serious kind.
    expect(page.get_by_test_id("task-kind")).to_have_attribute("data-kind", "investigation")
    other.refresh_from_db()
    assert other.status == "merged" and other.merged_into_id == task.pk

    # Cancel the merged-into task (e.g. entered in error after all).
    cancel = page.get_by_test_id("cancel-form")
    cancel.locator("input[name=reason]").fill("录入错误")
    with page.expect_navigation():
        cancel.locator("button[type=submit]").click()
    expect(page.get_by_test_id("task-status")).to_have_attribute("data-status", "cancelled")
    assert TracingTask.objects.get(pk=task.pk).closed_at is not None
    assert csp == []
    screenshot(page, "cancelled")
