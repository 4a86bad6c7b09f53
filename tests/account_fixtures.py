"""Fixtures of the account administration tests: a county administrator and accounts around it."""

import pytest

from tasks.models import Role
from tests.factories import UserFactory

HOME_COUNTY = "460105"


@pytest.fixture
def county_admin(hainan):
    """The administrator of the home county (460105): a two-factor role."""
    return UserFactory(username="ada", full_name="管理员甲", role=Role.ADMIN, division_id=HOME_COUNTY)


def other_county_account():
    """A grid worker of another county (460106): outside the home county administrator's territory."""
    return UserFactory(role=Role.FIELD_STAFF, division_id="460106001002", full_name="外区网格员")


def home_county_account():
    return UserFactory(role=Role.FIELD_STAFF, division_id="460105001002", full_name="本区网格员")
