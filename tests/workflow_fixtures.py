"""Fixtures shared by the workflow tests (issue 4): units with members, tasks at given moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import Role, TracingTask, Unit, UnitMembership
from tests.conftest import HOME_COUNTY, HOME_TOWNSHIP, HOME_VILLAGE
from tests.factories import IntakeBatchFactory, TracingTaskFactory, UserFactory

# A fixed moment for the clocks: 2024-05-01 10:00:00 Beijing time.
T0 = datetime(2024, 5, 1, 2, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
OTHER_COUNTY_VILLAGE = "460106001002"


def unit(kind: str, code: str) -> Unit:
    return Unit.objects.get(kind=kind, division_id=code)


def add_member(user, code: str = HOME_VILLAGE) -> None:
    UnitMembership.objects.get_or_create(unit=unit("subunit", code), user=user)


def make_task(division: str = HOME_VILLAGE, *, batch_at: datetime = T0, batch=None, **kwargs) -> TracingTask:
    batch = batch or IntakeBatchFactory(started_at=batch_at)
    return TracingTaskFactory(division_id=division, batch=batch, created_at=batch_at, **kwargs)


@pytest.fixture
def crew(db, hainan, field_staff, team_leader, duty_officer):
    """The home village's sub-unit with two members (bob and a second grid worker) and a leader, the
    township team led by tina, and the county duty desk (alice, no shift: all duty officers)."""
    second = UserFactory(
        username="dan", full_name="网格员丙", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE
    )
    sub_leader = UserFactory(
        username="sue", full_name="分队长", role=Role.TEAM_LEADER, division_id=HOME_VILLAGE
    )
    add_member(field_staff)
    add_member(second)
    subunit = unit("subunit", HOME_VILLAGE)
    subunit.leader = sub_leader
    subunit.save()
    team = unit("team", HOME_TOWNSHIP)
    team.leader = team_leader
    team.save()
    return {
        "bob": field_staff,
        "dan": second,
        "sue": sub_leader,
        "tina": team_leader,
        "alice": duty_officer,
        "subunit": subunit,
        "team": team,
        "desk": unit("duty_desk", HOME_COUNTY),
    }


def linked_lead(task, **fields):
    """A lead already consumed into `task`, as its batch would leave it (linked, no longer pending)."""
    from tasks.models import Lead, LeadLink, PendingLead

    lead = Lead.objects.create(**fields)
    PendingLead.objects.filter(lead=lead).delete()
    LeadLink.objects.create(lead=lead, task=task, batch_id=task.batch_id)
    return lead
