"""The check-in clock sweep and the overdue samples (docs/monitoring.md, "The sweep").

Run every minute with the deadline sweep (registered in MonitoringConfig.ready() through
tasks.hooks.register_clock_sweep: the beat job `tasks.sweep_deadlines` and `manage.py sweep_deadlines
--now …` both call it). Built like the deadline sweep (tasks/sweep.py): a step is one transaction and
one statement of data-modifying CTEs, after a one-row probe of the same partial index that ends the step
at once when nothing is due (most minutes).

The check-in step:

1. Claim up to `limit` periods whose `next_due_at <= now`, through the partial index
   `period_clock_due_village` of the narrow table `monitoring_periodclock` (models.PeriodClock: the
   moment and the village of the running and escalated periods with a clock moment pending, kept by
   triggers), locking the period rows `FOR UPDATE SKIP LOCKED` and reading the clock columns from the
   locked (latest) row version: a check-in committed meanwhile has moved `next_due_at` on, and the row
   is no longer due. The period table has no index on
   any column the step changes (only lost contact changes `state`), so its update is HOT; the step
   writes the moved moments to the clock table in the same statement, by primary key, and turns the
   update trigger off for that statement (`monitoring.step_writes_clock`, local to its transaction).
2. For each, the days whose duty-desk moment has come are missed (the sweep may be days late: each day
   counts once, in order), up to the last day of the period, and up to the miss that reaches
   LOST_CONTACT_MISSES (the person is then out of the clock: what came after is not counted). The day
   after them is the day now awaited; its reminder and leader moments may have come too. Every edge
   whose moment has come and whose bit in `checkin_alerts` is unset becomes a MonitoringAlert
   (`ON CONFLICT (period, kind, day) DO NOTHING`: the unique constraint is the last guard).
3. The period moves on: misses added, `due_day` the day now awaited (NULL after the last day), the bits
   of that day, `next_due_at` its next pending moment; lost contact: state `lost_contact`, `next_due_at`
   NULL (the person stays out of the sweep until a check-in, which restarts the clock).
4. Notifications (tasks.models.Notification, kind "monitoring") for the alerts that INSERT returned:
   reminder → the members of the sub-unit; leader → the sub-unit leader; desk → the duty desk of the
   county (the officers on shift, else every duty officer scoped to it, as the deadline sweep finds
   them); lost contact → the sub-unit leader and the desk; an alert with nobody to tell (no sub-unit)
   → the desk. One notification per recipient, kind and day of the step: a digest counting the
   step's people and naming the place that holds them (one person: the alert itself, linked to its
   task). The claim takes a moment's due periods village by village (`period_clock_due_village`), so
   that a step tells a village's sub-unit once and a county's desk once or twice, not once per person.
   Their SMS / e-mail delivery rows through the one outbox (tasks.notify.delivery_inserts),
   in the same statement. The person's own reminder goes through monitoring.hooks.person_reminders
   (the notices app sends it), in the same transaction.

A late sweep records every edge it finds (the record of the misses stays complete) but notifies the
reminder and leader edges only of the day still awaited: a day already missed is the desk's.

The sample step: open sample items whose day has passed and that have no overdue alert yet, through
the partial index `sample_overdue_pending`, claimed the same way; one `sample_overdue` alert per
(period, day) to the sub-unit's members (else the desk); the items are marked so that the next minute
does not read them again.

Two sweeps at the same time: the second skips the rows the first has locked; a row the first has
committed is re-checked against its new `next_due_at` and is no longer due. So each alert is recorded,
and notified, once. With many periods due at once (every period shares the same due hour), `sweep`
runs the steps on up to SWEEP_WORKERS connections, like the deadline sweep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tasks.notify import delivery_inserts
from tasks.sweep import run_on_connections

from . import hooks
from .clock import DESK_BIT, LEADER_BIT, REMINDER_BIT, alert_moments, local_day

# Periods (or sample items) per step: one transaction, one statement.
DEFAULT_LIMIT = 5000
# The period ids a digest notification lists (it counts them all).
DIGEST_PERIODS = 100

PERIOD_TABLE = "monitoring_monitoringperiod"
# The pending moments, kept from the period's by triggers (models.PeriodClock).
CLOCK_TABLE = "monitoring_periodclock"
_OPEN_STATES = "('running', 'escalated')"


@dataclass
class SweepResult:
    periods: int = 0
    alerts: int = 0
    notifications: int = 0
    deliveries: int = 0

    def __iadd__(self, other: SweepResult) -> SweepResult:
        self.periods += other.periods
        self.alerts += other.alerts
        self.notifications += other.notifications
        self.deliveries += other.deliveries
        return self

    def counts(self) -> dict[str, int]:
        return {
            "periods": self.periods,
            "alerts": self.alerts,
            "notifications": self.notifications,
            "deliveries": self.deliveries,
        }


def _last_day_reached(now: datetime, bit: int) -> date:
    """The last day whose `bit` moment (monitoring/clock.py) has come by `now`."""
    day = local_day(now) + timedelta(days=1)
    while alert_moments(day)[bit] > now:
        day -= timedelta(days=1)
    return day


def _moment_sql(day: str, hours: str) -> str:
    """A clock moment in SQL the way clock.py computes it: a wall-clock hour of a local day."""
    return f"(({day})::timestamp + make_interval(hours => {hours})) AT TIME ZONE %(tz)s"


def _next_moment_sql(day: str, bits: str) -> str:
    """clock.next_moment in SQL: the earliest moment of `day` whose bit is not in `bits` (NULL if none)."""
    reminder = _moment_sql(day, "%(due_hour)s")
    leader = _moment_sql(day, "%(due_hour)s + %(grace_hours)s")
    desk = _moment_sql(f"{day} + 1", "%(due_hour)s")
    return (
        f"LEAST(CASE WHEN {bits} & {REMINDER_BIT} = 0 THEN {reminder} END, "
        f"CASE WHEN {bits} & {LEADER_BIT} = 0 THEN {leader} END, "
        f"CASE WHEN {bits} & {DESK_BIT} = 0 THEN {desk} END)"
    )


# The duty desk of each county of the step's alerts, computed once per step: the active officers on
# shift, else every active duty officer scoped to the county (as the deadline sweep finds it).
_DESK_CTES = """
    counties AS MATERIALIZED (
        SELECT DISTINCT left(division_id, 6) AS county FROM alert
    ),
    on_shift AS MATERIALIZED (
        SELECT du.division_id AS county, s.user_id
        FROM tasks_dutyshift s
        JOIN tasks_unit du ON du.id = s.unit_id AND du.kind = 'duty_desk'
        JOIN tasks_user su ON su.id = s.user_id AND su.is_active
        WHERE du.division_id IN (SELECT county FROM counties) AND s.starts_at <= %(now)s AND s.ends_at > %(now)s
    ),
    desk AS MATERIALIZED (
        SELECT county, user_id FROM on_shift
        UNION ALL
        SELECT u.division_id, u.id FROM tasks_user u
        WHERE u.role = 'duty_officer' AND u.is_active AND u.division_id IN (SELECT county FROM counties)
          AND NOT EXISTS (SELECT 1 FROM on_shift o WHERE o.county = u.division_id)
    )"""

# The active members of an alert's sub-unit.
_MEMBERS_SQL = """
        SELECT a.id, m.user_id FROM alert a
        JOIN tasks_unitmembership m ON m.unit_id = a.subunit_id
        JOIN tasks_user mu ON mu.id = m.user_id AND mu.is_active"""


def _notify_ctes(recipients: str, delivery_ctes: list[str]) -> str:
    """Notification rows for the `alert` CTE (id, task_id, division_id, data) from the `recipients`
    UNION (id, user_id); an alert nobody would hear of goes to the desk; then the delivery rows."""
    deliveries = "".join(f",\n    {cte}" for cte in delivery_ctes)
    return f""",{_DESK_CTES},
    recipients AS MATERIALIZED ({recipients}
    ),
    everyone AS (
        SELECT id, user_id FROM recipients WHERE user_id IS NOT NULL
        UNION
        SELECT a.id, d.user_id FROM alert a JOIN desk d ON d.county = left(a.division_id, 6)
        WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id = a.id AND r.user_id IS NOT NULL)
    ),
    -- One notification per recipient, kind of alert and day: a grid worker whose village has thirty
    -- misses, or a desk with a county's, gets one line (and at most one SMS) listing them, not thirty.
    grouped AS MATERIALIZED (
        SELECT e.user_id, a.kind, a.day, count(*) AS n, min(a.id) AS alert_id, min(a.period_id) AS period_id,
               min(a.task_id) AS task_id, max(a.misses) AS misses,
               min(a.division_id) AS low, max(a.division_id) AS high,
               (array_agg(a.period_id ORDER BY a.period_id))[1:{DIGEST_PERIODS}] AS periods
        FROM everyone e JOIN alert a ON a.id = e.id
        GROUP BY e.user_id, a.kind, a.day
    ),
    digest AS (
        SELECT g.*, {_common_division_sql("g.low", "g.high")} AS area,
               -- Lost contact is the breach level (the SMS channel carries it); a missed day is a
               -- warning: an SMS per day missed would flood the desk's phone when many miss at once.
               CASE WHEN g.kind = 'lost_contact' THEN 'breach' ELSE 'warning' END AS level
        FROM grouped g
    ),
    notified AS (
        INSERT INTO tasks_notification (recipient_id, kind, task_id, data, created_at)
        SELECT d.user_id, 'monitoring', CASE WHEN d.n = 1 THEN d.task_id END,
               jsonb_build_object('alert', d.kind, 'day', d.day, 'division', d.area, 'place', dv.name,
                                  'level', d.level)
               || CASE WHEN d.n = 1
                       THEN jsonb_build_object('alert_id', d.alert_id, 'period', d.period_id)
                            || CASE WHEN d.misses IS NOT NULL THEN jsonb_build_object('misses', d.misses)
                                    ELSE '{{}}' END
                       ELSE jsonb_build_object('count', d.n, 'periods', to_jsonb(d.periods))
                  END,
               %(now)s
        FROM digest d LEFT JOIN tasks_division dv ON dv.code = d.area
        RETURNING id, recipient_id, kind, data->>'level' AS level, created_at
    ){deliveries}"""


def _common_division_sql(low: str, high: str) -> str:
    """The smallest division holding both codes (the codes nest: province 2, city 4, county 6,
    township 9, village 12 digits): the place a digest of several villages names."""
    return (
        f"CASE WHEN {low} = {high} THEN {low} "
        + " ".join(f"WHEN left({low}, {n}) = left({high}, {n}) THEN left({low}, {n})" for n in (9, 6, 4))
        + f" ELSE left({low}, 2) END"
    )


def _checkin_sql(delivery_ctes: list[str], delivery_count: str) -> str:
    reminder_day, leader_day = "%(reminded_until)s::date", "%(leader_until)s::date"
    recipients = f"""{_MEMBERS_SQL}
        WHERE a.kind = 'checkin_reminder'
        UNION ALL
        SELECT a.id, a.leader_id FROM alert a WHERE a.kind IN ('checkin_leader', 'lost_contact')
        UNION ALL
        SELECT a.id, d.user_id FROM alert a JOIN desk d ON d.county = left(a.division_id, 6)
        WHERE a.kind IN ('checkin_desk', 'lost_contact')"""
    return f"""
    WITH due AS MATERIALIZED (
        SELECT p.id, p.ctid AS row_id, p.task_id, p.division_id, p.subunit_id, p.ends_on, p.due_day,
               p.checkin_alerts, p.consecutive_misses
        FROM {CLOCK_TABLE} c
        JOIN {PERIOD_TABLE} p ON p.id = c.period_id
        WHERE c.next_due_at IS NOT NULL AND c.next_due_at <= %(now)s
          -- Rechecked on the locked (latest) version of the period: a check-in or another sweep that
          -- committed meanwhile has moved its moment on.
          AND p.next_due_at <= %(now)s AND p.state IN {_OPEN_STATES}
        -- Village by village within a moment: a step's notifications are then one per village.
        ORDER BY c.next_due_at, c.division_code
        LIMIT %(limit)s
        FOR UPDATE OF p SKIP LOCKED
    ),
    -- reachable: the days from due_day whose desk moment has come (the day after a missed day is
    -- reached by its due hour), within the period; to_lose: the misses that make it lost contact.
    reach AS MATERIALIZED (
        SELECT d.*,
               GREATEST(LEAST({reminder_day} - d.due_day, d.ends_on - d.due_day + 1), 0) AS reachable,
               GREATEST(%(lost)s - d.consecutive_misses, 1) AS to_lose
        FROM due d WHERE d.due_day IS NOT NULL
    ),
    plan AS MATERIALIZED (
        SELECT r.*, r.reachable >= r.to_lose AS loses, LEAST(r.reachable, r.to_lose) AS missed,
               r.due_day + LEAST(r.reachable, r.to_lose) AS next_day
        FROM reach r
    ),
    -- The edges that have come, day by day: every edge of a missed day, the reminder and leader edges of
    -- the day now awaited, and lost contact on the day of the miss that reached it.
    events AS MATERIALIZED (
        SELECT p.id AS period_id, e.kind, e.day, e.bit
        FROM plan p
        CROSS JOIN LATERAL generate_series(
            0, CASE WHEN p.loses OR p.next_day > p.ends_on THEN p.missed - 1 ELSE p.missed END
        ) AS g(i)
        CROSS JOIN LATERAL (VALUES
            ('checkin_reminder', {REMINDER_BIT}, p.due_day + g.i, g.i < p.missed OR p.due_day + g.i <= {reminder_day}),
            ('checkin_leader', {LEADER_BIT}, p.due_day + g.i, g.i < p.missed OR p.due_day + g.i <= {leader_day}),
            ('checkin_desk', {DESK_BIT}, p.due_day + g.i, g.i < p.missed),
            ('lost_contact', 0, p.due_day + g.i, p.loses AND g.i = p.missed - 1)
        ) AS e(kind, bit, day, fires)
        WHERE e.fires AND (g.i > 0 OR p.checkin_alerts & e.bit = 0)
    ),
    inserted AS (
        INSERT INTO monitoring_monitoringalert (period_id, kind, day, created_at)
        SELECT period_id, kind, day, %(now)s FROM events
        ON CONFLICT (period_id, kind, day) DO NOTHING
        RETURNING id, period_id, kind, day
    ),
    -- The bits of the day now awaited: its reminder and leader edges that have come (the events of
    -- that day, computed here rather than by grouping the events), plus, if no day was missed, the bits
    -- it already had.
    settled AS MATERIALIZED (
        SELECT p.id, p.row_id, p.loses, p.consecutive_misses + p.missed AS misses,
               CASE WHEN p.next_day <= p.ends_on THEN p.next_day END AS due_day,
               CASE WHEN p.loses OR p.next_day > p.ends_on THEN 0
                    ELSE (CASE WHEN p.missed = 0 THEN p.checkin_alerts ELSE 0 END)
                         | (CASE WHEN p.next_day <= {reminder_day} THEN {REMINDER_BIT} ELSE 0 END)
                         | (CASE WHEN p.next_day <= {leader_day} THEN {LEADER_BIT} ELSE 0 END)
               END AS bits
        FROM plan p
    ),
    updated AS (
        UPDATE {PERIOD_TABLE} t
        SET consecutive_misses = s.misses,
            due_day = s.due_day,
            checkin_alerts = s.bits,
            next_due_at = CASE WHEN NOT s.loses THEN {_next_moment_sql("s.due_day", "s.bits")} END,
            state = CASE WHEN s.loses THEN 'lost_contact' ELSE t.state END,
            state_changed_at = CASE WHEN s.loses THEN %(now)s ELSE t.state_changed_at END,
            updated_at = %(now)s
        FROM settled s
        -- The locked row versions by their address (a TID scan): joined by id, the planner would read
        -- the whole table into a hash for each step.
        WHERE t.ctid = ANY(ARRAY(SELECT row_id FROM settled)) AND t.ctid = s.row_id AND t.id = s.id
        RETURNING t.id, CASE WHEN t.state IN {_OPEN_STATES} THEN t.next_due_at END AS moment
    ),
    -- A row due without an awaited day (its clock ended otherwise): out of the sweep.
    strays AS (
        UPDATE {PERIOD_TABLE} t SET next_due_at = NULL
        FROM due d WHERE t.id = d.id AND d.due_day IS NULL
        RETURNING t.id, NULL::timestamptz AS moment
    ),
    -- The clock rows of the moved periods, here rather than by the update trigger (which this statement
    -- turns off: checkin_step); by the primary key, for the planner not to hash the whole clock table.
    moved AS MATERIALIZED (
        SELECT id, moment FROM updated UNION ALL SELECT id, moment FROM strays
    ),
    clocked AS (
        UPDATE {CLOCK_TABLE} c SET next_due_at = m.moment
        FROM moved m
        WHERE c.period_id = ANY(ARRAY(SELECT id FROM moved)) AND c.period_id = m.id
          AND c.next_due_at IS DISTINCT FROM m.moment
    ),
    -- The new alerts to tell of: not the reminder and leader edges of days already missed (stale).
    alert AS MATERIALIZED (
        SELECT i.id, i.period_id, i.kind, i.day, e.task_id, e.division_id, e.subunit_id,
               sub.leader_id, e.consecutive_misses + e.missed AS misses
        FROM inserted i
        JOIN plan e ON e.id = i.period_id
        LEFT JOIN tasks_unit sub ON sub.id = e.subunit_id
        WHERE i.kind NOT IN ('checkin_reminder', 'checkin_leader') OR i.day >= e.next_day
    ){_notify_ctes(recipients, delivery_ctes)}
    SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM strays), (SELECT count(*) FROM inserted),
           (SELECT count(*) FROM notified), {delivery_count},
           (SELECT COALESCE(jsonb_object_agg(r.day, r.ids), '{{}}'::jsonb)::text FROM (
                SELECT a.day::text AS day, array_agg(a.period_id ORDER BY a.period_id) AS ids
                FROM alert a WHERE a.kind = 'checkin_reminder' GROUP BY a.day) r)
    """


def _samples_sql(delivery_ctes: list[str], delivery_count: str) -> str:
    return f"""
    WITH overdue AS MATERIALIZED (
        SELECT s.id, s.period_id, s.due_on
        FROM monitoring_sampledue s
        WHERE s.state = 'due' AND s.overdue_alerted_at IS NULL AND s.due_on < %(today)s
        ORDER BY s.due_on
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    marked AS (
        UPDATE monitoring_sampledue t SET overdue_alerted_at = %(now)s
        FROM overdue o WHERE t.id = o.id
        RETURNING t.id
    ),
    events AS MATERIALIZED (
        SELECT DISTINCT o.period_id, o.due_on AS day, p.task_id, p.division_id, p.subunit_id
        FROM overdue o JOIN {PERIOD_TABLE} p ON p.id = o.period_id
        WHERE p.state <> 'released'
    ),
    inserted AS (
        INSERT INTO monitoring_monitoringalert (period_id, kind, day, created_at)
        SELECT period_id, 'sample_overdue', day, %(now)s FROM events
        ON CONFLICT (period_id, kind, day) DO NOTHING
        RETURNING id, period_id, kind, day
    ),
    alert AS MATERIALIZED (
        SELECT i.id, i.period_id, i.kind, i.day, e.task_id, e.division_id, e.subunit_id,
               NULL::integer AS misses
        FROM inserted i
        JOIN events e ON e.period_id = i.period_id AND e.day = i.day
    ){_notify_ctes(_MEMBERS_SQL, delivery_ctes)}
    SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM inserted), (SELECT count(*) FROM notified),
           {delivery_count}
    """


_DUE_ROWS_SQL = f"SELECT 1 FROM {CLOCK_TABLE} WHERE next_due_at IS NOT NULL AND next_due_at <= %(now)s"
_ANY_DUE_SQL = _DUE_ROWS_SQL + " LIMIT 1"
_COUNT_DUE_SQL = f"SELECT count(*) FROM ({_DUE_ROWS_SQL} LIMIT %(cap)s) due"
_ANY_OVERDUE_SQL = (
    "SELECT 1 FROM monitoring_sampledue WHERE state = 'due' AND overdue_alerted_at IS NULL "
    "AND due_on < %(today)s LIMIT 1"
)


# Local to the step's transaction; read by the period update trigger (migration 0061).
_STEP_WRITES_CLOCK_SQL = "SELECT set_config('monitoring.step_writes_clock', %s, true)"


def _clock_params(now: datetime) -> dict[str, Any]:
    return {
        "now": now,
        "tz": settings.TIME_ZONE,
        "due_hour": settings.CHECKIN_DUE_HOUR,
        "grace_hours": settings.CHECKIN_GRACE_HOURS,
        "lost": settings.LOST_CONTACT_MISSES,
        "reminded_until": _last_day_reached(now, REMINDER_BIT),
        "leader_until": _last_day_reached(now, LEADER_BIT),
    }


def checkin_step(*, now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> SweepResult:
    """One bounded step of the check-in clocks (module docstring). `periods == 0`: nothing was due."""
    now = now or timezone.now()
    delivery_ctes, delivery_count, delivery_params = delivery_inserts("notified")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANY_DUE_SQL, {"now": now})
        if cursor.fetchone() is None:
            return SweepResult()
        # The step writes its clock rows itself: the update trigger skips this one statement.
        cursor.execute(_STEP_WRITES_CLOCK_SQL, ["on"])
        cursor.execute(
            _checkin_sql(delivery_ctes, delivery_count),
            {**_clock_params(now), **delivery_params, "limit": limit},
        )
        periods, alerts, notifications, deliveries, reminded = cursor.fetchone()
        cursor.execute(_STEP_WRITES_CLOCK_SQL, ["off"])
        for day, period_ids in sorted(json.loads(reminded).items()):
            hooks.person_reminders(period_ids, day=date.fromisoformat(day), now=now)
    return SweepResult(periods, alerts, notifications, deliveries)


def samples_step(*, now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> tuple[SweepResult, int]:
    """One bounded step of the overdue samples: (counts, sample items claimed; 0: nothing was due)."""
    now = now or timezone.now()
    today = local_day(now)
    delivery_ctes, delivery_count, delivery_params = delivery_inserts("notified")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANY_OVERDUE_SQL, {"today": today})
        if cursor.fetchone() is None:
            return SweepResult(), 0
        cursor.execute(
            _samples_sql(delivery_ctes, delivery_count),
            {**delivery_params, "now": now, "today": today, "limit": limit},
        )
        items, alerts, notifications, deliveries = cursor.fetchone()
    return SweepResult(0, alerts, notifications, deliveries), items


def _loop(now: datetime, limit: int, max_rounds: int) -> SweepResult:
    total = SweepResult()
    for _round in range(max_rounds):
        result = checkin_step(now=now, limit=limit)
        total += result
        if result.periods < limit:
            break
    return total


def _sample_loop(now: datetime, limit: int, max_rounds: int) -> SweepResult:
    total = SweepResult()
    for _round in range(max_rounds):
        result, items = samples_step(now=now, limit=limit)
        total += result
        if items < limit:
            break
    return total


def _checkins(now: datetime, limit: int, max_rounds: int, workers: int) -> SweepResult:
    """The check-in steps, on up to `workers` connections when many periods are due (the same runner as
    the task clocks: tasks.sweep.run_on_connections)."""
    return run_on_connections(
        _loop,
        now=now,
        limit=limit,
        max_rounds=max_rounds,
        workers=workers,
        count_due_sql=_COUNT_DUE_SQL,
        empty=SweepResult,
        name="checkin-sweep",
    )


def sweep(
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    max_rounds: int = 1000,
    workers: int | None = None,
) -> SweepResult:
    """The whole monitoring sweep as of `now`: the check-in clocks, then the overdue samples."""
    now = now or timezone.now()
    workers = settings.SWEEP_WORKERS if workers is None else workers
    total = _checkins(now, limit, max_rounds, workers)
    total += _sample_loop(now, limit, max_rounds)
    return total


def sweep_clocks(*, now: datetime) -> dict[str, int]:
    """The entry registered with tasks.hooks.register_clock_sweep: counts to report."""
    return sweep(now=now).counts()
