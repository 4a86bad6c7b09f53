"""The second factor is enrolled by the account's owner only: the password alone shows no secret; the
activation code or an enrolment code from the administrator does."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tasks.accounts import account_create, activation_code_issue, enrolment_code_issue
from tasks.twofactor import current_code, pending_device

pytestmark = pytest.mark.django_db


def _login(client, user, password) -> None:
    assert client.post(reverse("login"), {"username": user.username, "password": password}).status_code == 302


def _enrol(client, user) -> None:
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("otp_setup"), {"otp_token": current_code(device), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert TOTPDevice.objects.get(user=user).confirmed


def test_whoever_knows_the_password_sees_no_secret_and_cannot_enrol(unverified_client, commander, password):
    _login(unverified_client, commander, password)
    page = unverified_client.get(reverse("otp_setup")).content.decode()
    assert 'data-testid="enrolment-code"' in page and 'data-testid="otp-secret"' not in page
    assert not TOTPDevice.objects.filter(user=commander).exists()
    # A code typed without the grant does nothing.
    unverified_client.post(reverse("otp_setup"), {"otp_token": "123456"})
    assert not TOTPDevice.objects.filter(user=commander, confirmed=True).exists()
    assert unverified_client.get(reverse("home")).status_code == 302


def test_a_wrong_or_someone_elses_enrolment_code_is_refused(unverified_client, commander, auditor, password):
    someone_elses = enrolment_code_issue(user=auditor)
    _login(unverified_client, commander, password)
    for code in ("AAAA-BBBB-CCCC", someone_elses):
        response = unverified_client.post(reverse("otp_setup"), {"enrolment_code": code})
        assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert 'data-testid="otp-secret"' not in unverified_client.get(reverse("otp_setup")).content.decode()


def test_the_administrators_enrolment_code_lets_the_owner_enrol_once(
    unverified_client, client, commander, password
):
    code = enrolment_code_issue(user=commander)
    stale = pending_device(commander)  # a secret someone may have seen before: replaced at the grant
    _login(unverified_client, commander, password)
    assert unverified_client.post(reverse("otp_setup"), {"enrolment_code": code}).status_code == 302
    page = unverified_client.get(reverse("otp_setup")).content.decode()
    assert 'data-testid="otp-secret"' in page
    assert not TOTPDevice.objects.filter(pk=stale.pk).exists()
    _enrol(unverified_client, commander)
    # Single use: another session cannot use the same code.
    commander.refresh_from_db()
    TOTPDevice.objects.filter(user=commander).delete()
    from django.test import Client

    other = Client()
    _login(other, commander, password)
    assert other.post(reverse("otp_setup"), {"enrolment_code": code}).status_code == 200


def test_the_activation_page_goes_on_to_enrolment(unverified_client, hainan):
    user = account_create(username="qin", role="commander", division_code="4601")
    code = activation_code_issue(user=user)
    response = unverified_client.post(
        reverse("activate"),
        {
            "username": "qin",
            "code": code,
            "password": "Commander-Pass-2026",
            "password_again": "Commander-Pass-2026",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("otp_setup")
    assert 'data-testid="otp-secret"' in unverified_client.get(reverse("otp_setup")).content.decode()
    _enrol(unverified_client, user)


def test_an_activation_code_does_not_enrol_and_an_enrolment_code_does_not_activate(
    unverified_client, commander, password
):
    from django.core.exceptions import ValidationError

    from tasks.accounts import account_activate

    activation = activation_code_issue(user=commander)
    _login(unverified_client, commander, password)
    assert unverified_client.post(reverse("otp_setup"), {"enrolment_code": activation}).status_code == 200
    with pytest.raises(ValidationError):
        account_activate(
            username=commander.username, code=enrolment_code_issue(user=commander), password="X-Y-z-12345678"
        )


def test_an_account_created_with_a_password_gets_an_enrolment_code(hainan, capsys):
    call_command(
        "create_account",
        "han",
        "--role",
        "auditor",
        "--division",
        "460105",
        "--password",
        "Auditor-Pass-2026",
    )
    assert "Enrolment code" in capsys.readouterr().out
    call_command(
        "create_account",
        "wei",
        "--role",
        "field_staff",
        "--division",
        "460105001001",
        "--password",
        "Field-Pass-2026x",
    )
    assert "Enrolment code" not in capsys.readouterr().out


def test_the_command_issues_a_code_for_an_unenrolled_account_only(commander, capsys):
    from django.core.management import CommandError

    from tasks.twofactor import ensure_confirmed_device

    call_command("issue_enrolment_code", commander.username)
    assert "Enrolment code" in capsys.readouterr().out
    ensure_confirmed_device(commander)
    with pytest.raises(CommandError):
        call_command("issue_enrolment_code", commander.username)
