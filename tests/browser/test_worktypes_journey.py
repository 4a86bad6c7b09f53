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


def test_field_workers_answer_a_verification_and_register_a_returnee_on_a_phone(
    new_context, live_server, hainan, field_staff, password, screenshot
):
    """At 360 px, from "my tasks": a grid worker opens a verification (only its form and the contact
    attempts), records "found here, no risk" and the task closes; then opens a registration, fills the
    registration form, and the task is registered (its clock stops, monitoring is told)."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks import hooks
    from tasks.models import Registration
    from tests.browser.conftest import PHONE
    from tests.fieldwork_helpers import dispatched_task

    verification = dispatched_task(field_staff, kind=TaskKind.VERIFICATION)
    registration = dispatched_task(field_staff, kind=TaskKind.REGISTRATION)
    TracingTask.objects.filter(pk=verification.pk).update(verify_due=timezone.now() + timedelta(minutes=40))
    completed: list[list[int]] = []
    hooks.on_registration_completed("tests.browser", lambda *, task_ids, now: completed.append(task_ids))
    context = new_context(**PHONE)
    page = context.new_page()
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        login(page, live_server, field_staff.username, password)
        page.goto(f"{live_server.url}/field/")
        cards = page.get_by_test_id("field-task")
        expect(cards).to_have_count(2)
        expect(cards.first).to_have_attribute("data-task", str(verification.pk))
        expect(cards.first.get_by_test_id("task-kind")).to_have_text("核查")
        expect(cards.first.locator(".deadline")).to_contain_text("核查截止")
        screenshot(page, "kinds-1-my-tasks")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360

        # The verification: its form and the contact attempts, none of the investigation's forms.
        cards.first.locator("a").click()
        form = page.get_by_test_id("verification-form")
        expect(form).to_be_visible()
        expect(page.get_by_test_id("radius-form")).to_have_count(0)
        expect(page.get_by_test_id("trajectory-form")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "kinds-2-verification")
        form.locator("label.choice", has=page.locator("input[name=found][value=here]")).click()
        form.locator("[name=note]").fill("本人在家，无异常")
        form.locator("button[type=submit]").click()
        expect(page.get_by_test_id("not-editable")).to_be_visible()
        verification.refresh_from_db()
        assert (verification.status, verification.outcome) == ("closed", "no_risk")
        assert verification.verified_at is not None
        screenshot(page, "kinds-3-verified")

        # The registration.
        page.goto(f"{live_server.url}/field/")
        page.get_by_test_id("field-task").filter(has_text=f"T{registration.pk}").locator("a").click()
        form = page.get_by_test_id("registration-form")
        expect(form).to_be_visible()
        expect(page.get_by_test_id("verification-form")).to_have_count(0)
        expect(page.get_by_test_id("radius-form")).to_have_count(0)
        form.locator("[name=arrived_from]").fill("广东省广州市")
        form.locator("[name=address]").fill("秀华路9号2栋")
        form.locator("label.choice", has=page.locator("input[name=phone_confirmed][value=true]")).click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "kinds-4-registration-form")
        form.locator("button[type=submit]").click()
        expect(page.get_by_test_id("registration-record")).to_contain_text("广东省广州市")
        expect(page.get_by_test_id("registration-form")).to_have_count(0)
        screenshot(page, "kinds-5-registered")
        registration.refresh_from_db()
        assert registration.registered_at is not None
        assert Registration.objects.get(task=registration).health_state == "no_symptoms"
        assert completed == [[registration.pk]]
        assert csp == []
    finally:
        hooks._registration_completed.pop("tests.browser", None)
        context.close()
