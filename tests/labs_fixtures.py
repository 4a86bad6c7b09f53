"""Fixtures of the lab results tests: persons as the intake keys them, and a lab's integration client."""

from __future__ import annotations

import pytest

from tasks import validation as v
from tasks.models import ApiToken, Person
from tasks.tokens import token_issue


def resident_id(serial: int, region: str = "460105") -> str:
    first17 = f"{region}19900101{serial:03d}"
    return first17 + v.id_check_digit(first17)


def person_by_id(id18: str, name: str = "王五", phone: str = "") -> Person:
    """A person as the intake stores one found by a resident ID (person key "id:" + the ID's hash)."""
    return Person.objects.create(
        person_key=v.person_key(id18=id18),
        id_number=id18,
        id_number_hash=v.id_number_hash(id18),
        name=name,
        phone=phone,
        phone_hash=v.phone_hash(phone) if phone else "",
    )


def person_by_phone(phone: str, name: str) -> Person:
    """A person as the intake stores one found by phone and name (person key "pn:" + hash)."""
    return Person.objects.create(
        person_key=v.person_key(phone=phone, name=name),
        name=name,
        phone=phone,
        phone_hash=v.phone_hash(phone),
    )


@pytest.fixture
def lab_client(duty_officer):
    """An API client authenticated with an integration token of the home county's duty desk account
    (what a laboratory pushes with)."""
    from rest_framework.test import APIClient

    key, _token = token_issue(user=duty_officer, kind=ApiToken.Kind.INTEGRATION, name="lab")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
