"""Idle session timeout: sliding, one second either side of the edge; passive polls do not count."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

START = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def logged_in(client, field_staff, password):
    with time_machine.travel(START, tick=False):
        assert client.login(username=field_staff.username, password=password)
        assert client.get(reverse("home")).status_code == 200  # activity at START
    return client


def test_the_session_survives_one_second_before_the_idle_limit(logged_in, settings):
    with time_machine.travel(START + settings.SESSION_IDLE_TIMEOUT - dt.timedelta(seconds=1), tick=False):
        assert logged_in.get(reverse("home")).status_code == 200


def test_the_session_ends_one_second_after_the_idle_limit(logged_in, settings):
    with time_machine.travel(START + settings.SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1), tick=False):
        response = logged_in.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert logged_in.get(reverse("home")).status_code == 302  # really logged out


def test_activity_slides_the_limit(logged_in, settings):
    middle = START + settings.SESSION_IDLE_TIMEOUT - dt.timedelta(minutes=1)
    with time_machine.travel(middle, tick=False):
        assert logged_in.get(reverse("home")).status_code == 200
    with time_machine.travel(middle + settings.SESSION_IDLE_TIMEOUT - dt.timedelta(seconds=1), tick=False):
        assert logged_in.get(reverse("home")).status_code == 200


def test_a_passive_poll_does_not_keep_the_session_alive(logged_in, settings):
    middle = START + settings.SESSION_IDLE_TIMEOUT - dt.timedelta(minutes=1)
    with time_machine.travel(middle, tick=False):
        assert logged_in.get(reverse("api-me"), HTTP_X_IDLE_PASSIVE="1").status_code == 200
    with time_machine.travel(START + settings.SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1), tick=False):
        assert logged_in.get(reverse("home")).status_code == 302


def test_an_api_call_after_the_idle_limit_gets_401(logged_in, settings):
    with time_machine.travel(START + settings.SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1), tick=False):
        response = logged_in.get(reverse("api-me"))
    assert response.status_code == 401


def test_the_idle_timeout_is_thirty_minutes_by_default(settings):
    assert settings.SESSION_IDLE_TIMEOUT == dt.timedelta(minutes=30)
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
