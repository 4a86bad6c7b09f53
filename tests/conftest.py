"""Shared fixtures: the real Hainan territory, and one account per role (healthchecks' alice/bob/charlie).

Territory: 秀英区 (county 460105) in 海口市 is home; 龙华区 (460106) is "another county".
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from tasks.models import Division, Role
from tests.factories import DEFAULT_PASSWORD, UserFactory

HAINAN_CSV = Path(__file__).resolve().parent.parent / "tasks" / "data" / "hainan.csv"
HOME_COUNTY = "460105"
HOME_TOWNSHIP = "460105001"
HOME_VILLAGE = "460105001001"
OTHER_VILLAGE_SAME_TOWNSHIP = "460105001002"
OTHER_COUNTY = "460106"


def _ensure_territory() -> None:
    if not Division.objects.filter(code="46").exists():
        call_command("load_divisions", str(HAINAN_CSV), "--with-teams", verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _ensure_territory()


@pytest.fixture
def hainan(request):
    """The Hainan territory, loaded (again, after a transactional test flushed it) when missing."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
    else:
        request.getfixturevalue("db")
    _ensure_territory()
    return Division.objects.get(code="46")


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def duty_officer(hainan):
    return UserFactory(username="alice", full_name="值班员甲", role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)


@pytest.fixture
def field_staff(hainan):
    return UserFactory(username="bob", full_name="网格员乙", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)


@pytest.fixture
def team_leader(hainan):
    return UserFactory(username="tina", full_name="队长丁", role=Role.TEAM_LEADER, division_id=HOME_TOWNSHIP)


@pytest.fixture
def cdc_expert(hainan):
    return UserFactory(username="erin", full_name="专家戊", role=Role.CDC_EXPERT, division_id=HOME_COUNTY)


@pytest.fixture
def commander(hainan):
    return UserFactory(username="cora", full_name="指挥己", role=Role.COMMANDER, division_id="4601")


@pytest.fixture
def outsider(hainan):
    """A duty officer of another county: for them, home-county records do not exist."""
    return UserFactory(username="charlie", full_name="外区值班员", role=Role.DUTY_OFFICER, division_id=OTHER_COUNTY)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
