"""Starting monitoring periods, in sets: from approved disposals (their measure and test schedule) and
from completed returnee registrations (RETURNEE_MONITOR_DAYS of health monitoring).

One statement per call does everything: it picks the sources not yet applied, extends the open period
of a person who already has one (one open period per person), inserts the new periods
(ON CONFLICT DO NOTHING: the unique disposal and the one-open-period index make a second run, or two
runs at once, a no-op) and the samples of the test schedule. A disposal is applied once: the period
it started or extended lists it (`applied_disposals`), released or not. A registration is applied
once: its task is the period's, or a period of the person already spans the returnee's days.

The same statement serves the approval (reviews.hooks.on_disposal_approved, inside the approval's
transaction), the registration hook (tasks.hooks.on_registration_completed) and the catch-up (the
clock sweep and `manage.py monitoring_start_periods`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reviews.models import DisposalProposal
from tasks.models import TracingTask, Unit

from ..clock import first_due_day, local_day
from ..models import MonitoringPeriod, SampleDue

# States a person is still followed in: a new measure extends such a period rather than starting another.
EXTENDABLE_STATES = ["running", "escalated", "lost_contact"]

# The shape every source is brought to (`cand`): one row per person at most (the latest source wins;
# the others are picked up by the next run, then extending the period just started).
_START_SQL = """
WITH src AS ({source}),
cand AS (
    SELECT DISTINCT ON (s.person_id) s.*, s.day + s.days - 1 AS last_day,
        -- clock.first_due_day: the first day, unless it is today and past the due hour, or already gone.
        CASE WHEN s.day > %(today)s::date THEN s.day
             WHEN s.day = %(today)s::date THEN %(first_today)s::date
             ELSE %(today)s::date END AS first_due
    FROM src s
    ORDER BY s.person_id, s.approved_at DESC, s.source_id DESC
),
ext AS (
    UPDATE {period} p SET
        ends_on = GREATEST(p.ends_on, c.last_day),
        disposal_id = COALESCE(p.disposal_id, c.disposal_id),
        applied_disposals = CASE WHEN c.disposal_id IS NULL THEN p.applied_disposals
                                 ELSE array_append(p.applied_disposals, c.disposal_id) END,
        -- A later decision supersedes the measure the person was under.
        measure = CASE WHEN c.disposal_id IS NULL THEN p.measure ELSE c.measure END,
        task_id = COALESCE(p.task_id, c.task_id),
        -- A period whose clock had run out (past its old last day) is due again from the next day on.
        due_day = COALESCE(p.due_day, GREATEST(p.ends_on + 1, %(first_today)s::date)),
        checkin_alerts = CASE WHEN p.due_day IS NULL THEN 0 ELSE p.checkin_alerts END,
        next_due_at = CASE WHEN p.due_day IS NULL
            THEN (GREATEST(p.ends_on + 1, %(first_today)s::date) + make_interval(hours => %(due_hour)s::int))
                 AT TIME ZONE %(tz)s
            ELSE p.next_due_at END,
        updated_at = %(now)s
    FROM cand c
    WHERE p.person_id = c.person_id AND p.state = ANY(%(extendable)s)
    RETURNING p.id, p.starts_on, p.person_id
),
ins AS (
    INSERT INTO {period} (person_id, task_id, disposal_id, applied_disposals, origin, measure, division_id, subunit_id,
        starts_on, ends_on, state, state_changed_at, due_day, checkin_alerts, next_due_at,
        consecutive_misses, abnormal_open, link_token_hash, note, created_at, updated_at)
    SELECT c.person_id, c.task_id, c.disposal_id,
        CASE WHEN c.disposal_id IS NULL THEN ARRAY[]::bigint[] ELSE ARRAY[c.disposal_id] END, c.origin, c.measure, c.division_id, c.subunit_id,
        c.day, c.last_day, 'running', %(now)s,
        CASE WHEN c.first_due <= c.last_day THEN c.first_due END, 0,
        CASE WHEN c.first_due <= c.last_day
             THEN (c.first_due + make_interval(hours => %(due_hour)s::int)) AT TIME ZONE %(tz)s END,
        0, false, '', '', %(now)s, %(now)s
    FROM cand c
    WHERE NOT EXISTS (
        SELECT 1 FROM {period} p WHERE p.person_id = c.person_id AND p.state = ANY(%(extendable)s)
    )
    ON CONFLICT DO NOTHING
    RETURNING id, starts_on, person_id
),
touched AS (SELECT * FROM ext UNION ALL SELECT * FROM ins),
samples AS (
    INSERT INTO {sample} (period_id, schedule_day, due_on, test_type, state, result)
    SELECT t.id, (c.day + s.n - 1) - t.starts_on + 1, c.day + s.n - 1, 'nucleic_acid', 'due', ''
    FROM touched t
    JOIN cand c ON c.person_id = t.person_id
    CROSS JOIN LATERAL unnest(c.schedule) AS s(n)
    WHERE c.day + s.n - 1 >= t.starts_on
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM ext), (SELECT count(*) FROM samples)
"""

# Approved disposals with a measure; `source_id` is the disposal's id.
_DISPOSAL_SOURCE = """
    SELECT d.id AS source_id, d.id AS disposal_id, d.task_id, d.person_id, 'disposal' AS origin,
        d.measure, d.measure_days AS days, d.test_schedule_days AS schedule,
        (d.approved_at AT TIME ZONE %(tz)s)::date AS day, d.approved_at,
        t.division_id, COALESCE(t.subunit_id, u.id) AS subunit_id
    FROM {disposal} d
    JOIN {task} t ON t.id = d.task_id
    LEFT JOIN {unit} u ON u.kind = 'subunit' AND u.division_id = t.division_id
    WHERE d.measure <> 'none' AND d.measure_days > 0 {only}
      AND NOT EXISTS (
          SELECT 1 FROM {period} p
          WHERE p.person_id = d.person_id AND (p.disposal_id = d.id OR d.id = ANY(p.applied_disposals))
      )
"""

# Completed returnee registrations; `source_id` is the task's id.
_REGISTRATION_SOURCE = """
    SELECT t.id AS source_id, NULL::bigint AS disposal_id, t.id AS task_id, t.person_id,
        'registration' AS origin, 'health_monitoring' AS measure, %(returnee_days)s::int AS days,
        ARRAY[]::smallint[] AS schedule,
        (COALESCE(t.registered_at, %(now)s) AT TIME ZONE %(tz)s)::date AS day,
        COALESCE(t.registered_at, %(now)s) AS approved_at,
        t.division_id, COALESCE(t.subunit_id, u.id) AS subunit_id
    FROM {task} t
    LEFT JOIN {unit} u ON u.kind = 'subunit' AND u.division_id = t.division_id
    WHERE t.id = ANY(%(task_ids)s) AND t.person_id IS NOT NULL
      -- Covered: a period of this task, or one of the person already spanning the returnee's days.
      AND NOT EXISTS (
          SELECT 1 FROM {period} p
          WHERE p.person_id = t.person_id AND (
              p.task_id = t.id
              OR (p.starts_on <= (COALESCE(t.registered_at, %(now)s) AT TIME ZONE %(tz)s)::date
                  AND p.ends_on >= (COALESCE(t.registered_at, %(now)s) AT TIME ZONE %(tz)s)::date
                                   + %(returnee_days)s::int - 1)
          )
      )
"""


def _tables() -> dict[str, str]:
    return {
        "period": MonitoringPeriod._meta.db_table,
        "sample": SampleDue._meta.db_table,
        "disposal": DisposalProposal._meta.db_table,
        "task": TracingTask._meta.db_table,
        "unit": Unit._meta.db_table,
    }


def _run(source: str, params: dict, now: datetime) -> dict[str, int]:
    tables = _tables()
    today = local_day(now)
    sql = _START_SQL.format(source=source.format(**tables), **tables)
    values = {
        **params,
        "now": now,
        "today": today,
        "first_today": first_due_day(today, now),
        "due_hour": settings.CHECKIN_DUE_HOUR,
        "tz": timezone.get_current_timezone_name(),
        "extendable": EXTENDABLE_STATES,
        "returnee_days": settings.RETURNEE_MONITOR_DAYS,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, values)
        started, extended, samples = cursor.fetchone()
    return {"started": started, "extended": extended, "samples": samples}


def start_from_disposals(
    *, now: datetime | None = None, disposal_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Periods (and their samples) of the approved disposals with a measure not yet covered: those of
    `disposal_ids`, or all of them (the catch-up). Returns {"started", "extended", "samples"}."""
    now = now or timezone.now()
    params: dict = {}
    only = ""
    if disposal_ids is not None:
        params["disposal_ids"] = [int(i) for i in disposal_ids]
        only = "AND d.id = ANY(%(disposal_ids)s)"
    source = _DISPOSAL_SOURCE.replace("{only}", only)
    return _run(source, params, now)


def start_from_registrations(*, task_ids: Iterable[int], now: datetime | None = None) -> dict[str, int]:
    """Health monitoring of RETURNEE_MONITOR_DAYS for the persons of these completed registrations,
    from the day of the registration."""
    now = now or timezone.now()
    return _run(_REGISTRATION_SOURCE, {"task_ids": [int(i) for i in task_ids]}, now)


def catch_up(*, now: datetime | None = None) -> dict[str, int]:
    """The clock sweep's part: every approved disposal not yet covered (e.g. approved while the hook
    was not installed, or before the monitoring app existed)."""
    return start_from_disposals(now=now)


def period_days(period: MonitoringPeriod) -> int:
    return (period.ends_on - period.starts_on + timedelta(days=1)).days
