"""A run that finds the intake lock taken says so (and which backend holds it); an API call without
authentication is a 401 with a challenge every time, also after an idle timeout."""

from __future__ import annotations

import datetime as dt
import io

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tasks.intake import INTAKE_LOCK_KEY

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def run_intake() -> str:
    out = io.StringIO()
    call_command("run_intake", stdout=out)
    return out.getvalue()


def test_a_run_that_finds_the_lock_taken_names_the_holder(hainan):
    params = connection.get_connection_params()
    with psycopg.connect(**params) as orphan:  # as the backend of a SIGKILLed run that still holds it
        orphan.execute("SELECT pg_advisory_xact_lock(%s)", [INTAKE_LOCK_KEY])
        pid = orphan.info.backend_pid
        message = run_intake()
        assert "another intake run holds the lock" in message and f"pid {pid}" in message, message
        assert "no pending leads" not in message
    assert run_intake().strip() == "Nothing to do: no pending leads."


def test_an_anonymous_api_call_is_a_401_with_a_challenge(api_client):
    response = api_client.get(reverse("api-me"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_every_api_call_after_the_idle_limit_is_a_401(client, field_staff, password, settings):
    with time_machine.travel(START, tick=False):
        assert client.login(username=field_staff.username, password=password)
        assert client.get(reverse("api-me")).status_code == 200
    with time_machine.travel(START + settings.SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1), tick=False):
        first = client.get(reverse("api-me"))
        second = client.get(reverse("api-me"))
    assert (first.status_code, second.status_code) == (401, 401)
    assert first["WWW-Authenticate"] == second["WWW-Authenticate"] == "Token"


def test_an_authenticated_call_without_the_permission_stays_a_403(api_client, field_staff):
    api_client.force_login(field_staff)
    assert api_client.get("/api/v1/leads/").status_code == 403
