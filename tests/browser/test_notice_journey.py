"""Issue 8 in a real browser: a person opens the personal link of a notice on a phone and acknowledges
it; an appeal reaches the county desk, which answers on its page, and the answer appears on the
person's page. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

from django.utils import timezone
from playwright.sync_api import expect

from notices.links import token_for
from notices.models import Notice, NoticeFeedback, NoticeState
from tests.browser.conftest import login
from tests.notice_fixtures import ID_NUMBER, pushed_notice


def test_a_person_acknowledges_on_the_phone_and_an_appeal_is_answered(
    phone_page, page, live_server, hainan, duty_officer, city_desk, password, screenshot, settings
):
    settings.NOTICE_SMS_BACKEND = "notices.sms.LocMemBackend"
    notice = pushed_notice(duty_officer, city_desk, now=timezone.now())
    link = f"{live_server.url}/n/{token_for(notice)}/"

    # The person opens the link from the SMS on a phone and confirms.
    phone_page.goto(link)
    card = phone_page.get_by_test_id("person-notice")
    expect(card).to_contain_text(notice.title)
    expect(phone_page.get_by_test_id("notice-text")).to_have_text(notice.text)
    assert ID_NUMBER not in phone_page.content()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone_page, "1-notice-on-phone")
    phone_page.get_by_test_id("acknowledge").click()
    expect(phone_page.get_by_test_id("acknowledged")).to_be_visible()
    screenshot(phone_page, "2-acknowledged")
    notice.refresh_from_db()
    assert notice.state == NoticeState.ACKNOWLEDGED and notice.ack_channel == "popup"

    # The person says the notice is wrong.
    phone_page.locator("textarea[name=text]").fill("我11月18日不在该超市，不是密切接触者。")
    phone_page.get_by_test_id("send-feedback").click()
    expect(phone_page.get_by_test_id("person-feedback")).to_contain_text("不是密切接触者")
    expect(phone_page.get_by_test_id("desk-answer")).to_have_count(0)
    screenshot(phone_page, "3-appeal-sent")
    feedback = NoticeFeedback.objects.get(notice=notice)

    # The county desk sees it in its feedback queue and answers on the page.
    login(page, live_server, duty_officer.username, password)
    page.goto(f"{live_server.url}/notices/feedback/")
    row = page.locator(f"[data-feedback='{feedback.pk}']")
    expect(row).to_contain_text("不是密切接触者")
    row.locator("textarea[name=answer]").fill(
        "经核实，您11月18日的行程与病例无交集，已撤销密接判定，请勿担心。"
    )
    screenshot(page, "4-desk-answers")
    row.get_by_test_id("answer").click()
    expect(page.locator(".messages")).to_be_visible()
    feedback.refresh_from_db()
    assert feedback.state == "explained" and feedback.answered_by == duty_officer

    # The answer appears on the person's page.
    phone_page.reload()
    expect(phone_page.get_by_test_id("desk-answer")).to_contain_text("已撤销密接判定")
    screenshot(phone_page, "5-answer-on-phone")
    assert Notice.objects.get(pk=notice.pk).state == NoticeState.ACKNOWLEDGED
