"""Logging in through the real login page, in a real browser."""

from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.utils import translation
from playwright.sync_api import expect

from tests.browser.conftest import LOGIN_PATH, login


def _role_label(user) -> str:
    with translation.override("zh-hans"):  # the browser asks for zh-CN
        return str(user.get_role_display())


def test_duty_officer_logs_in_and_lands_on_home_with_their_name(
    page, live_server, duty_officer, password, screenshot
):
    login(page, live_server, duty_officer.username, password)

    assert urlsplit(page.url).path == "/"
    body = page.locator("body")
    expect(body).to_contain_text(duty_officer.display_name)
    expect(body).to_contain_text(_role_label(duty_officer))
    screenshot(page, "home")


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page, live_server, duty_officer, screenshot
):
    login(page, live_server, duty_officer.username, "not-the-password-42", expect_success=False)

    assert urlsplit(page.url).path == LOGIN_PATH
    with translation.override("zh-hans"):
        username_label = get_user_model()._meta.get_field("username").verbose_name
        django_message = str(AuthenticationForm.error_messages["invalid_login"]) % {
            "username": username_label
        }
    error = page.locator("[role=alert], .errorlist, .errornote").or_(page.get_by_text(django_message))
    expect(error.first).to_be_visible()
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_value("")
    # Still anonymous: the page does not show the account's name.
    expect(page.locator("body")).not_to_contain_text(duty_officer.display_name)
    screenshot(page, "wrong-password")


def test_login_works_on_a_phone(phone_page, live_server, duty_officer, password, screenshot):
    login(phone_page, live_server, duty_officer.username, password)

    assert urlsplit(phone_page.url).path == "/"
    expect(phone_page.locator("body")).to_contain_text(duty_officer.display_name)
    screenshot(phone_page, "phone-home")
