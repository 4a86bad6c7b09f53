"""API tokens end: at their lifetime, at logout, at a password change, at a second-factor reset and at
deactivation. Machines get integration tokens that work on the lead API only."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tasks.models import ApiToken
from tasks.twofactor import ensure_confirmed_device
from tests.conftest import totp_now
from tests.intake_helpers import lead

pytestmark = pytest.mark.django_db


def _token(field_staff, password) -> str:
    response = APIClient().post(
        reverse("api-token"), {"username": field_staff.username, "password": password}, format="json"
    )
    assert response.status_code == 200
    return response.json()["token"]


REFUSED = 401  # a bad, expired or revoked credential is "not authenticated": 401 with WWW-Authenticate


def _me(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    response = client.get(reverse("api-me"))
    if response.status_code != 200:
        assert "token" in response.json()["detail"].lower(), response.json()
    return response.status_code


def test_a_token_works_until_its_lifetime_ends(field_staff, password, settings):
    settings.API_TOKEN_LIFETIME = timedelta(hours=12)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        key = _token(field_staff, password)
    with time_machine.travel(start + timedelta(hours=12) - timedelta(seconds=1), tick=False):
        assert _me(key) == 200
    with time_machine.travel(start + timedelta(hours=12) + timedelta(seconds=1), tick=False):
        assert _me(key) == REFUSED


def test_the_answer_says_when_the_token_ends_and_only_its_hash_is_kept(field_staff, password):
    response = APIClient().post(
        reverse("api-token"), {"username": field_staff.username, "password": password}, format="json"
    )
    body = response.json()
    assert body["expires_at"]
    token = ApiToken.objects.get(user=field_staff)
    assert token.key_hash != body["token"] and body["token"] not in token.key_hash
    assert token.kind == ApiToken.Kind.PERSONAL


def test_logout_revokes_the_accounts_tokens(client, field_staff, password):
    key = _token(field_staff, password)
    assert _me(key) == 200
    client.login(username=field_staff.username, password=password)
    client.post(reverse("logout"))
    assert _me(key) == REFUSED
    assert ApiToken.objects.get(user=field_staff).revoked_reason == "logout"


def test_a_password_change_revokes_every_token(field_staff, password):
    key = _token(field_staff, password)
    field_staff.set_password("another-Secret-42")
    field_staff.save()
    assert _me(key) == REFUSED


def test_a_login_that_only_updates_last_login_keeps_the_tokens(client, field_staff, password):
    key = _token(field_staff, password)
    client.login(username=field_staff.username, password=password)
    assert _me(key) == 200


def test_a_second_factor_reset_revokes_every_token(duty_officer, password):
    device = ensure_confirmed_device(duty_officer)
    response = APIClient().post(
        reverse("api-token"),
        {"username": duty_officer.username, "password": password, "otp_token": totp_now(duty_officer)},
        format="json",
    )
    key = response.json()["token"]
    assert _me(key) == 200
    device.delete()  # the administrator resets a lost phone
    assert _me(key) == REFUSED


def test_deactivation_revokes_every_token(field_staff, password):
    key = _token(field_staff, password)
    field_staff.is_active = False
    field_staff.save()
    field_staff.is_active = True
    field_staff.save()
    assert _me(key) == REFUSED


def test_an_integration_token_pushes_leads_and_reads_nothing_else(duty_officer):
    out = io.StringIO()
    call_command(
        "create_integration_token", duty_officer.username, name="健康码平台", stdout=out, stderr=io.StringIO()
    )
    key = out.getvalue().strip()
    token = ApiToken.objects.get(user=duty_officer)
    assert token.kind == ApiToken.Kind.INTEGRATION and token.name == "健康码平台"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post("/api/v1/leads/", [lead()], format="json")
    assert response.status_code == 201 and response.json()["accepted"] == 1
    assert client.get("/api/v1/tasks/").status_code == REFUSED
    assert client.get(reverse("api-me")).status_code == REFUSED


def test_the_old_never_ending_tokens_are_no_longer_accepted(field_staff):
    from rest_framework.authtoken.models import Token

    old = Token.objects.create(user=field_staff)
    assert _me(old.key) == REFUSED


def test_the_api_logout_revokes_the_token_it_is_called_with(field_staff, password):
    key = _token(field_staff, password)
    other = _token(field_staff, password)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(reverse("api-logout")).status_code == 204
    assert _me(key) == REFUSED and _me(other) == 200
