"""Login lockout (django-axes): the login page and the API token endpoint."""

import datetime as dt

import time_machine
from django.urls import reverse

from tasks.twofactor import ensure_confirmed_device

START = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def _fail(client, username, times):
    for _ in range(times):
        response = client.post(reverse("login"), {"username": username, "password": "Wrong-Password-99"})
        assert response.status_code in (200, 429)
    return response


def test_five_wrong_passwords_lock_the_account_out_even_with_the_right_password(
    unverified_client, field_staff, password, settings
):
    assert settings.AXES_FAILURE_LIMIT == 5
    _fail(unverified_client, field_staff.username, 4)
    assert (
        unverified_client.post(
            reverse("login"), {"username": field_staff.username, "password": "Wrong-Password-99"}
        ).status_code
        == 429
    )
    response = unverified_client.post(
        reverse("login"), {"username": field_staff.username, "password": password}
    )
    assert response.status_code == 429
    assert 'data-testid="locked-out"' in response.content.decode()
    assert unverified_client.get(reverse("home")).status_code == 302  # not logged in


def test_four_wrong_passwords_do_not_lock(unverified_client, field_staff, password):
    _fail(unverified_client, field_staff.username, 4)
    response = unverified_client.post(
        reverse("login"), {"username": field_staff.username, "password": password}
    )
    assert response.status_code == 302


def test_the_lockout_is_per_account_and_address(unverified_client, field_staff, team_leader, password):
    _fail(unverified_client, field_staff.username, 5)
    # A colleague behind the same office address still logs in.
    assert (
        unverified_client.post(
            reverse("login"), {"username": team_leader.username, "password": password}
        ).status_code
        == 302
    )


def test_usernames_in_other_letter_cases_count_together(unverified_client, field_staff, password):
    for name in ("BOB", "Bob", "bob", "bOb", "boB"):
        unverified_client.post(reverse("login"), {"username": name, "password": "Wrong-Password-99"})
    assert (
        unverified_client.post(reverse("login"), {"username": "bob", "password": password}).status_code == 429
    )


def test_the_lockout_ends_after_the_cool_off(unverified_client, field_staff, password, settings):
    with time_machine.travel(START, tick=False):
        _fail(unverified_client, field_staff.username, 5)
    with time_machine.travel(START + settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1), tick=False):
        assert (
            unverified_client.post(
                reverse("login"), {"username": field_staff.username, "password": password}
            ).status_code
            == 429
        )
    # The refused attempt during the lockout restarted the cool-off (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT).
    later = START + 2 * settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert (
            unverified_client.post(
                reverse("login"), {"username": field_staff.username, "password": password}
            ).status_code
            == 302
        )


def test_the_token_endpoint_locks_out_too(api_client, field_staff, password):
    url = reverse("api-token")
    for _ in range(5):
        api_client.post(
            url, {"username": field_staff.username, "password": "Wrong-Password-99"}, format="json"
        )
    response = api_client.post(url, {"username": field_staff.username, "password": password}, format="json")
    assert response.status_code == 429
    assert "detail" in response.json()


def test_wrong_codes_at_the_token_endpoint_count_towards_the_lockout(api_client, duty_officer, password):
    device = ensure_confirmed_device(duty_officer)
    url = reverse("api-token")
    for _ in range(5):
        device.refresh_from_db()
        device.throttling_failure_count = 0  # skip django-otp's own back-off: count axes only
        device.throttling_failure_timestamp = None
        device.save()
        api_client.post(
            url,
            {"username": duty_officer.username, "password": password, "otp_token": "000000"},
            format="json",
        )
    response = api_client.post(
        url, {"username": duty_officer.username, "password": password, "otp_token": "000000"}, format="json"
    )
    assert response.status_code == 429
