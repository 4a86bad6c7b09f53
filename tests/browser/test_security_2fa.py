"""Two-factor login in a real browser: password, then the TOTP code; the CSP lets the pages work."""

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import totp_now


def test_a_duty_officer_enters_the_code_after_the_password_and_sees_the_watermark(
    page, live_server, duty_officer, password, screenshot
):
    totp_now(duty_officer)  # an enrolled officer: the device exists before the login
    csp_errors = []
    page.on(
        "console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    login(page, live_server, duty_officer.username, password, expect_success=False)
    assert urlsplit(page.url).path == "/accounts/2fa/"
    page.locator("input[name=otp_token]").fill(totp_now(duty_officer))
    with page.expect_navigation():
        page.locator("form").filter(has=page.locator("input[name=otp_token]")).locator(
            "button[type=submit]"
        ).click()
    assert urlsplit(page.url).path == "/"
    expect(page.locator("[data-testid=watermark]")).to_be_attached()
    expect(page.locator("[data-testid=watermark] span").first).to_contain_text(duty_officer.username)
    screenshot(page, "home-with-watermark")
    assert not csp_errors, csp_errors


def test_first_login_shows_the_qr_code_for_enrolment(page, live_server, commander, password, screenshot):
    from tasks.accounts import enrolment_code_issue

    code = enrolment_code_issue(user=commander)
    login(page, live_server, commander.username, password, expect_success=False)
    assert urlsplit(page.url).path == "/accounts/2fa/setup/"
    # The password alone shows no secret: the administrator's enrolment code comes first.
    expect(page.locator("[data-testid=otp-qr]")).to_have_count(0)
    page.locator("[data-testid=enrolment-code]").fill(code)
    with page.expect_navigation():
        page.locator("form").filter(has=page.locator("[data-testid=enrolment-code]")).locator(
            "button[type=submit]"
        ).click()
    expect(page.locator("[data-testid=otp-qr] svg")).to_be_visible()
    expect(page.locator("[data-testid=otp-secret]")).not_to_be_empty()
    screenshot(page, "enrol")
