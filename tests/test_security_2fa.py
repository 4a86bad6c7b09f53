"""Two-factor login (TOTP) per role, enrolment, the token endpoint, the demo helpers, account rules."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tasks.accounts import account_create, enrolment_code_issue
from tasks.models import Role, User
from tasks.twofactor import current_code, ensure_confirmed_device, pending_device
from tests.factories import UserFactory

REQUIRED = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.COMMANDER, Role.AUDITOR, Role.ADMIN}
DIVISION = {Role.FIELD_STAFF: "460105001001", Role.TEAM_LEADER: "460105001"}


def _password_login(client, user, password):
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302, "the password step should succeed"
    return response


@pytest.mark.parametrize("role", Role.values)
def test_the_second_factor_is_required_exactly_for_the_configured_roles(
    unverified_client, hainan, password, role
):
    user = UserFactory(role=role, division_id=DIVISION.get(role, "460105"))
    _password_login(unverified_client, user, password)
    response = unverified_client.get(reverse("home"))
    if role in REQUIRED:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("otp_verify"))
    else:
        assert response.status_code == 200


def test_the_setting_lists_the_roles_of_the_issue(settings):
    assert set(settings.OTP_REQUIRED_ROLES) == {r.value for r in REQUIRED}


def test_first_login_enrols_a_device_with_an_inline_qr_code_and_a_confirmed_code(
    unverified_client, duty_officer, password
):
    _password_login(unverified_client, duty_officer, password)
    # The password alone shows no secret: the administrator's one-time enrolment code comes first
    # (tests/test_security_enrolment.py).
    code = enrolment_code_issue(user=duty_officer)
    assert unverified_client.post(reverse("otp_setup"), {"enrolment_code": code}).status_code == 302
    response = unverified_client.get(reverse("otp_verify"), {"next": "/"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("otp_setup"))
    assert "<svg" in html and 'data-testid="otp-secret"' in html
    assert "http" not in html.split('data-testid="otp-qr"')[1].split("</div>")[0]  # no outside QR service
    device = TOTPDevice.objects.get(user=duty_officer, confirmed=False)

    wrong = unverified_client.post(reverse("otp_setup"), {"otp_token": "000000", "next": "/"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong code started django-otp's back-off
    device.throttling_failure_timestamp = None
    device.save()

    right = unverified_client.post(reverse("otp_setup"), {"otp_token": current_code(device), "next": "/"})
    assert right.status_code == 302 and right["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed
    assert unverified_client.get(reverse("home")).status_code == 200


def test_an_enrolled_account_enters_its_code_after_the_password(unverified_client, commander, password):
    device = ensure_confirmed_device(commander)
    _password_login(unverified_client, commander, password)
    page = unverified_client.get(reverse("otp_verify"))
    assert page.status_code == 200 and 'name="otp_token"' in page.content.decode()
    response = unverified_client.post(reverse("otp_verify"), {"otp_token": current_code(device), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert unverified_client.get(reverse("home")).status_code == 200


def test_a_code_is_accepted_only_once(unverified_client, client, commander, password):
    device = ensure_confirmed_device(commander)
    code = current_code(device)
    _password_login(unverified_client, commander, password)
    assert unverified_client.post(reverse("otp_verify"), {"otp_token": code}).status_code == 302

    from django.test import Client

    second = Client()
    _password_login(second, commander, password)
    response = second.post(reverse("otp_verify"), {"otp_token": code})
    assert response.status_code == 200
    assert second.get(reverse("home")).status_code == 302


def test_an_enrolled_account_cannot_enrol_a_second_device_with_its_password_alone(
    unverified_client, auditor, password
):
    ensure_confirmed_device(auditor)
    _password_login(unverified_client, auditor, password)
    response = unverified_client.get(reverse("otp_setup"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("otp_verify"))
    assert TOTPDevice.objects.filter(user=auditor).count() == 1


def test_the_next_parameter_cannot_send_the_user_to_another_site(unverified_client, commander, password):
    device = ensure_confirmed_device(commander)
    _password_login(unverified_client, commander, password)
    response = unverified_client.post(
        reverse("otp_verify"), {"otp_token": current_code(device), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_a_session_api_call_without_the_second_factor_is_refused(
    unverified_client, duty_officer, field_staff, password
):
    _password_login(unverified_client, duty_officer, password)
    response = unverified_client.get(reverse("api-me"))
    assert (
        response.status_code == 403
        and "Two-factor" in response.json()["detail"]
        or "双因素" in response.json()["detail"]
    )

    from django.test import Client

    other = Client()
    _password_login(other, field_staff, password)
    assert other.get(reverse("api-me")).status_code == 200


def test_the_client_fixture_completes_the_second_factor(client, duty_officer, password):
    assert client.login(username=duty_officer.username, password=password)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("api-me")).status_code == 200


def test_the_token_endpoint_wants_the_code_for_roles_with_a_second_factor(
    api_client, duty_officer, field_staff, password
):
    url = reverse("api-token")
    missing = api_client.post(url, {"username": duty_officer.username, "password": password}, format="json")
    assert missing.status_code == 400 and "otp_token" in missing.json()["errors"]

    device = ensure_confirmed_device(duty_officer)
    wrong = api_client.post(
        url, {"username": duty_officer.username, "password": password, "otp_token": "123456"}, format="json"
    )
    assert wrong.status_code == 400
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    right = api_client.post(
        url,
        {"username": duty_officer.username, "password": password, "otp_token": current_code(device)},
        format="json",
    )
    assert right.status_code == 200 and right.json()["token"]

    field = api_client.post(url, {"username": field_staff.username, "password": password}, format="json")
    assert field.status_code == 200 and field.json()["token"]


def test_a_token_lets_a_machine_call_the_api_without_a_session(api_client, field_staff, password):
    token = api_client.post(
        reverse("api-token"), {"username": field_staff.username, "password": password}, format="json"
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get(reverse("api-me")).status_code == 200


def test_totp_code_command_is_refused_when_debug_is_off(hainan, settings, duty_officer):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("totp_code", duty_officer.username)


def test_totp_code_command_prints_a_code_the_device_accepts(hainan, settings, duty_officer, capsys):
    settings.DEBUG = True
    device = ensure_confirmed_device(duty_officer)
    call_command("totp_code", duty_officer.username)
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and code.isdigit()
    assert device.verify_token(code)


def test_seed_demo_gives_each_two_factor_account_a_device_and_prints_its_uri(hainan, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    for username in ("duty", "expert", "commander", "auditor", "admin"):
        assert TOTPDevice.objects.filter(user__username=username, confirmed=True).count() == 1
        assert "otpauth://totp/" in out and username in out
    for username in ("leader", "field"):
        assert not TOTPDevice.objects.filter(user__username=username).exists()
    call_command("seed_demo")  # idempotent: still one device each
    assert TOTPDevice.objects.filter(user__username="duty").count() == 1


def test_pending_device_is_reused_until_confirmed(duty_officer):
    assert pending_device(duty_officer).pk == pending_device(duty_officer).pk


# ---- one person, one account; strong passwords ---------------------------------------------------------


def test_two_active_accounts_cannot_share_a_work_phone(hainan):
    account_create(
        username="p1", role="admin", division_code="46", password="Admin-Pass-2026", phone="13900000001"
    )
    with pytest.raises(ValidationError) as excinfo:
        account_create(
            username="p2", role="admin", division_code="46", password="Admin-Pass-2026", phone="13900000001"
        )
    assert "phone" in excinfo.value.message_dict


def test_the_database_refuses_a_second_active_account_with_the_same_work_phone(hainan):
    UserFactory(phone="13900000002")
    with pytest.raises(IntegrityError):
        UserFactory(phone="13900000002")


def test_an_inactive_account_may_keep_the_phone_of_its_successor(hainan):
    UserFactory(phone="13900000003", is_active=False)
    UserFactory(phone="13900000003")
    assert User.objects.filter(phone="13900000003").count() == 2


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("Short-1a", False),  # too short
        ("alllowercaseletters", False),  # one kind of character
        ("lowercase-and-dashes", False),  # two kinds
        ("Village-Staff-77", True),
    ],
)
def test_passwords_need_twelve_characters_of_three_kinds(hainan, password, accepted):
    from django.contrib.auth.password_validation import validate_password

    if accepted:
        validate_password(password)
    else:
        with pytest.raises(ValidationError):
            validate_password(password)


def test_passwords_are_hashed_with_argon2(duty_officer):
    assert duty_officer.password.startswith("argon2")
