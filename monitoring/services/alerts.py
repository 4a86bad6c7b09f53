"""Alerts of monitoring: recorded once each (MonitoringAlert's unique period, kind and day), and the staff
they reach at once: the duty desk of the person's county (the officers on shift, else every duty officer
scoped to it, as the deadline sweep does) and the county's CDC experts (else the city's), as Notification
rows with their SMS / e-mail delivery rows in the same statement (tasks/notify.py delivery_inserts).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.notify import delivery_inserts

from ..models import CheckIn, MonitoringAlert, MonitoringAlertKind, MonitoringPeriod, SampleDue, SampleState

_NOTIFY_SQL = """
WITH ev AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(events)s::jsonb) AS e(kind text, division_id text, task_id bigint, data jsonb)
),
counties AS MATERIALIZED (
    SELECT DISTINCT left(division_id, 6) AS county FROM ev
),
on_shift AS MATERIALIZED (
    SELECT du.division_id AS county, s.user_id
    FROM tasks_dutyshift s
    JOIN tasks_unit du ON du.id = s.unit_id AND du.kind = 'duty_desk'
    JOIN tasks_user su ON su.id = s.user_id AND su.is_active
    WHERE du.division_id IN (SELECT county FROM counties) AND s.starts_at <= %(now)s AND s.ends_at > %(now)s
),
county_experts AS MATERIALIZED (
    SELECT u.division_id AS county, u.id AS user_id FROM tasks_user u
    WHERE u.role = 'cdc_expert' AND u.is_active AND u.division_id IN (SELECT county FROM counties)
),
staff AS MATERIALIZED (
    SELECT county, user_id FROM on_shift
    UNION
    SELECT u.division_id, u.id FROM tasks_user u
    WHERE u.role = 'duty_officer' AND u.is_active AND u.division_id IN (SELECT county FROM counties)
      AND NOT EXISTS (SELECT 1 FROM on_shift o WHERE o.county = u.division_id)
    UNION
    SELECT county, user_id FROM county_experts
    UNION
    SELECT c.county, u.id FROM counties c
    JOIN tasks_user u ON u.role = 'cdc_expert' AND u.is_active AND u.division_id = left(c.county, 4)
    WHERE length(c.county) = 6 AND NOT EXISTS (SELECT 1 FROM county_experts x WHERE x.county = c.county)
),
notified AS (
    INSERT INTO tasks_notification (recipient_id, kind, task_id, escalation_id, data, created_at)
    SELECT s.user_id, e.kind, e.task_id, NULL, e.data, %(now)s
    FROM ev e JOIN staff s ON s.county = left(e.division_id, 6)
    ORDER BY s.user_id
    RETURNING id, recipient_id, kind, data->>'level' AS level, created_at
){deliveries}
SELECT (SELECT count(*) FROM notified), {delivery_count}
"""


def notify_desk_and_experts(events: list[dict[str, Any]], *, now: datetime) -> tuple[int, int]:
    """One notification per event and recipient (the duty desk and the CDC experts of the event's
    county), with its delivery rows, in one statement. An event: {"kind", "division_id", "task_id",
    "data"}. Returns (notifications, deliveries)."""
    events = [e for e in events if e.get("division_id")]
    if not events:
        return 0, 0
    ctes, count, params = delivery_inserts("notified")
    sql = _NOTIFY_SQL.format(deliveries="".join(f",\n{cte}" for cte in ctes), delivery_count=count)
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "events": json.dumps(events, default=str), "now": now})
        notifications, deliveries = cursor.fetchone()
    return int(notifications), int(deliveries)


def ask_for_test(period: MonitoringPeriod, *, now: datetime) -> SampleDue | None:
    """A sample due today for the period, unless one is already due; None when one was."""
    if SampleDue.objects.filter(period=period, state=SampleState.DUE).exists():
        return None
    today = timezone.localtime(now).date()
    schedule_day = max((today - period.starts_on).days + 1, 1)
    sample, created = SampleDue.objects.get_or_create(
        period=period, schedule_day=schedule_day, defaults={"due_on": today}
    )
    return sample if created else None


def checkin_abnormal(period: MonitoringPeriod, checkin: CheckIn, *, now: datetime) -> MonitoringAlert | None:
    """An abnormal check-in: the period holds an open abnormality (no release until it is cleared) and
    one alert per day is recorded. The first of the day also alerts the duty desk and the county's CDC
    experts at once, asks for a test and opens or escalates a P1 investigation. Returns the new alert,
    or None when the day already had one."""
    from .escalation import open_or_escalate_investigation

    if not period.abnormal_open:
        MonitoringPeriod.objects.filter(pk=period.pk).update(abnormal_open=True, updated_at=now)
        period.abnormal_open = True
    alert, created = MonitoringAlert.objects.get_or_create(
        period=period,
        kind=MonitoringAlertKind.ABNORMAL,
        day=checkin.day,
        defaults={"checkin": checkin, "created_at": now},
    )
    if not created:
        return None
    ask_for_test(period, now=now)
    notify_desk_and_experts(
        [
            {
                "kind": "abnormal_checkin",
                "division_id": period.division_id,
                "task_id": period.task_id,
                "data": {
                    "person": period.person_id,
                    "period": period.pk,
                    "checkin": checkin.pk,
                    "day": checkin.day.isoformat(),
                    "division": period.division_id,
                },
            }
        ],
        now=now,
    )
    open_or_escalate_investigation(
        [period.person_id], _("Abnormal check-in: temperature or symptoms reported"), now
    )
    period.refresh_from_db(fields=["state", "state_changed_at", "updated_at"])
    return alert


__all__ = ["ask_for_test", "checkin_abnormal", "notify_desk_and_experts"]
