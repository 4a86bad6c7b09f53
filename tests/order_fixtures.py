"""Supervision orders (the duty app): a team with its leader, and orders made directly (no request).

`make_order` is a plain function (the route walkers import it); the fixtures are registered in
tests/conftest.py `pytest_plugins`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.conftest import HOME_TOWNSHIP

# A fixed moment (Beijing 10:00) for the controlled-clock tests.
O0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def home_team():
    from tasks.models import Unit

    return Unit.objects.get(kind="team", division_id=HOME_TOWNSHIP)


def make_order(*, issuer=None, owner_unit=None, owner_user=None, deadline=None, now=None, **extra):
    """An order issued through the service (so it carries its clock and its first event)."""
    from duty.services.orders import issue_order
    from tests.factories import UserFactory

    now = now or timezone.now()
    if issuer is None:
        issuer = UserFactory(role="commander", division_id="4601")
    if owner_unit is None and owner_user is None:
        owner_unit = home_team()
    return issue_order(
        actor=issuer,
        title=extra.pop("title", "核查长流镇红码人员"),
        text=extra.pop("text", "请今日内完成"),
        deadline=deadline or now + timedelta(hours=4),
        owner_unit=owner_unit,
        owner_user=owner_user,
        now=now,
        **extra,
    )


def order_in(owner_division_code: str):
    """An order owned by the unit of `owner_division_code`, issued from that county's desk."""
    from tasks.models import Unit
    from tests.factories import UserFactory

    unit = Unit.objects.filter(division_id=owner_division_code).first()
    issuer = UserFactory(role="duty_officer", division_id=owner_division_code[:6])
    return make_order(issuer=issuer, owner_unit=unit)


@pytest.fixture
def led_team(hainan, team_leader):
    """The home township's team, led by `team_leader` (tina)."""
    team = home_team()
    team.leader = team_leader
    team.save(update_fields=["leader"])
    return team
