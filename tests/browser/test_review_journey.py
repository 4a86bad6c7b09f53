"""The expert review journey (issue 6) in Chromium: an expert opens the queue, sees the automatic findings
on a seeded task, comments on an entry and returns the task; the field user reads the comments and
resubmits; the expert approves the second round with a disposal."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone
from playwright.sync_api import expect

from reviews.models import DisposalProposal, Review
from tasks.models import RadiusControl, TracingTask
from tests.browser.conftest import login
from tests.conftest import HOME_VILLAGE
from tests.review_fixtures import HAIKOU, SANYA, clean_fieldwork, submit, traced_task, trajectory


def _seed(field_staff):
    """A submitted task of bob's village whose trajectory drives from Haikou to Sanya in 30 minutes."""
    reported_at = timezone.now() - timedelta(days=1)
    task = traced_task(reported_at=reported_at, assignee=field_staff)
    clean_fieldwork(task, field_staff, reported_at)
    day = reported_at - timedelta(days=2)
    trajectory(task, field_staff, day, hours=1, place="海口火车站", at=HAIKOU)
    sanya = trajectory(
        task,
        field_staff,
        day + timedelta(hours=1.5),
        hours=1,
        place="三亚火车站",
        at=SANYA,
        transport="private_car",
    )
    RadiusControl.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=field_staff,
        division_id=HOME_VILLAGE,
        measure="home_isolation",
        controlled_at=reported_at + timedelta(hours=2),
    )
    TracingTask.objects.filter(pk=task.pk).update(radius_limited_at=reported_at + timedelta(hours=2))
    review = submit(TracingTask.objects.get(pk=task.pk), field_staff)
    return task, sanya, review


def _csp_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def test_an_expert_returns_then_approves_a_task_with_a_disposal(
    page, new_context, live_server, hainan, cdc_expert, field_staff, password, screenshot
):
    from tasks.twofactor import ensure_confirmed_device

    ensure_confirmed_device(cdc_expert)
    task, sanya, review = _seed(field_staff)
    base = live_server.url
    csp = _csp_errors(page)

    # The expert opens the queue: the task waits there with its findings counted.
    login(page, live_server, cdc_expert.username, password)
    page.goto(f"{base}/reviews/")
    row = page.locator(f'[data-testid=queue-row][data-review="{review.pk}"]')
    expect(row).to_be_visible()
    expect(row.locator(".sev-error")).to_be_visible()
    screenshot(page, "1-queue")

    # The review page: the impossible journey is flagged next to the Sanya entry; the map draws the points.
    row.get_by_role("link", name=f"T{task.pk}").click()
    entry = page.locator(f"#trajectory-{sanya.pk}")
    expect(entry.locator('[data-rule="impossible_travel"]')).to_be_visible()
    expect(page.locator("#review-map[data-ready=true]")).to_be_attached()
    expect(page.locator("#review-map .leaflet-interactive").first).to_be_attached()
    screenshot(page, "2-review-findings")

    # Claim, comment on the entry, return with reasons.
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("review-state")).to_have_attribute("data-state", "claimed")
    entry = page.locator(f"#trajectory-{sanya.pk}")
    entry.locator("details.comment-on-entry summary").click()
    entry.locator("textarea[name=body]").fill("40 分钟从海口开车到三亚不可能，请核实到达时间")
    entry.get_by_role("button").click()
    expect(page.locator(f"#trajectory-{sanya.pk} [data-testid=entry-comment]")).to_contain_text(
        "请核实到达时间"
    )
    page.get_by_test_id("return-form").locator("textarea[name=reasons]").fill(
        "三亚行程时间矛盾，请核实后重新提交"
    )
    screenshot(page, "3-before-return")
    page.get_by_test_id("return").click()
    expect(page).to_have_url(re.compile(r"/reviews/$"))
    expect(page.locator(f'[data-testid=queue-row][data-review="{review.pk}"]')).to_have_count(0)
    assert TracingTask.objects.get(pk=task.pk).status == "returned"

    # The field user (on a phone) reads the expert's comments on the task, then resubmits it.
    field = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    phone = field.new_page()
    login(phone, live_server, field_staff.username, password)
    comments = phone.request.get(f"{base}/api/v1/tasks/{task.pk}/review-comments/")
    assert comments.status == 200
    assert [c["body"] for c in comments.json()] == ["40 分钟从海口开车到三亚不可能，请核实到达时间"]
    phone.goto(f"{base}/field/tasks/{task.pk}/")
    submit_form = phone.get_by_test_id("submit-form")
    submit_form.locator("textarea[name=note]").fill("已核实：当天乘高铁，改正交通方式")
    submit_form.locator("button[type=submit]").click()
    for _ in range(50):
        if TracingTask.objects.get(pk=task.pk).status == "submitted":
            break
        phone.wait_for_timeout(200)
    assert TracingTask.objects.get(pk=task.pk).status == "submitted"
    screenshot(phone, "4-field-resubmitted")
    second = Review.objects.get(task=task, round=2)

    # The expert approves the second round with a disposal.
    page.goto(f"{base}/reviews/{second.pk}/")
    form = page.get_by_test_id("approve-form")
    form.locator("select[name=measure]").select_option("home_quarantine")
    form.locator("input[name=measure_days]").fill("14")
    form.locator("input[name=test_schedule_days]").fill("1, 4, 7")
    # Places are encrypted at rest: found in Python, not by a filter on the column.
    (haikou,) = [e for e in task.trajectory_entries.all() if e.place_name == "海口火车站"]
    form.locator(f"select[name=risk_{haikou.pk}]").select_option("medium")
    screenshot(page, "5-approve")
    page.get_by_test_id("approve").click()
    expect(page).to_have_url(re.compile(r"/reviews/$"))
    assert urlsplit(page.url).path == "/reviews/"

    proposal = DisposalProposal.objects.get(review=second)
    assert (proposal.measure, proposal.measure_days, proposal.test_schedule_days) == (
        "home_quarantine",
        14,
        [1, 4, 7],
    )
    assert [a.place for a in proposal.risk_areas.all()] == ["海口火车站"]
    assert TracingTask.objects.get(pk=task.pk).status == "approved"
    page.goto(f"{base}/reviews/{second.pk}/")
    expect(page.get_by_test_id("disposal")).to_be_visible()
    expect(page.get_by_test_id("decision")).to_contain_text(cdc_expert.display_name)
    screenshot(page, "6-approved")
    assert csp == [], csp
