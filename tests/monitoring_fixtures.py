"""Fixtures shared by the monitoring tests: a running period in the home village, at a fixed moment."""

from __future__ import annotations

from datetime import date

import pytest

from monitoring.clock import first_due_day, next_moment
from monitoring.models import MonitoringOrigin, MonitoringPeriod
from tests.conftest import HOME_VILLAGE
from tests.workflow_fixtures import T0, make_task, unit

# T0 is 2024-05-01 10:00 Beijing time; the period runs 14 days from that day.
FIRST_DAY = date(2024, 5, 1)


def make_period(
    task=None, *, starts_on: date = FIRST_DAY, days: int = 14, now=T0, **kwargs
) -> MonitoringPeriod:
    from datetime import timedelta

    task = task or make_task(HOME_VILLAGE, status="approved")
    due_day = first_due_day(starts_on, now)
    values = {
        "person": task.person,
        "task": task,
        "origin": MonitoringOrigin.REGISTRATION,
        "measure": "health_monitoring",
        "division_id": task.division_id,
        "subunit": unit("subunit", task.division_id),
        "starts_on": starts_on,
        "ends_on": starts_on + timedelta(days=days - 1),
        "due_day": due_day,
        "next_due_at": next_moment(due_day, 0),
        "created_at": now,
        "updated_at": now,
        "state_changed_at": now,
    }
    values.update(kwargs)
    return MonitoringPeriod.objects.create(**values)


@pytest.fixture
def period(crew):
    return make_period()


def notified_periods(**filters) -> list[tuple[int, str, str, int]]:
    """(recipient, alert kind, day, period) for every person a "monitoring" notification tells of: a
    notification of one person carries its period, a digest the list of its periods."""
    from tasks.models import Notification

    told = []
    for recipient, data in Notification.objects.filter(kind="monitoring", **filters).values_list(
        "recipient", "data"
    ):
        periods = data["periods"] if data.get("count") else [data["period"]]
        assert not data.get("count") or data["count"] == len(periods)
        told += [(recipient, data["alert"], data["day"], period) for period in periods]
    return told
