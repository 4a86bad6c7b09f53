"""The deadline sweep (issue 4): every minute, record the clock warnings and breaches that are due.

`sweep_step` is one bounded unit of work: one transaction, one statement (data-modifying CTEs), so the
rows flow from one part to the next without a round trip or a second lookup — after a one-row probe of
the same index, which ends the step at once when nothing is due (most minutes):

1. Claim up to `limit` due tasks — `next_alert_at <= now`, read through the partial index
   `task_next_alert_due` (only tasks with a running clock are in it, so the cost follows the rows that
   are due, not the table) — with `FOR UPDATE SKIP LOCKED`, reading the clock columns from the locked
   (latest) row version; for each, compute every (clock, level) whose moment has come and whose bit in
   `clock_alerts` is not set; INSERT the Escalation rows (`ON CONFLICT (task, clock, level, deadline)
   DO NOTHING`: the unique constraint is the last guard); set the bits and advance `next_alert_at` to
   the next pending moment (or NULL).
2. INSERT the Notification rows for the escalations that INSERT returned (warning → the assignee and
   the sub-unit leader, or the duty desk when the task has neither, e.g. a dispatch warning of a task
   still in the queue; breach → the team leader and the duty desk: the officers on shift at the county
   (or city) desk, else every duty officer scoped to it — computed once per county of the step, not
   once per escalation), and, from what that INSERT returns, their SMS / e-mail delivery rows
   (`notify.delivery_inserts`, one INSERT per configured channel).

Two sweeps at the same time: the second skips the rows the first has locked; a row the first has
already committed is re-checked by FOR UPDATE against its new `next_alert_at` and is no longer due. So
each escalation is recorded once, and notified once (unique escalation + recipient).

`sweep` loops the step until a step finds less than a full batch; the Celery beat job and
`manage.py sweep_deadlines [--now ISO8601]` both call it. `now` evaluates the clocks as of that time.
When many tasks are due at once (a batch dispatched together reaches its warnings together), it runs
the steps on up to SWEEP_WORKERS connections at the same time: the steps are independent (each claims
its own rows with SKIP LOCKED, the statement is the one above), and a step keeps one database backend
busy, so a second backend on a second core shortens a large sweep. Not by half on the 2-core bench
machine: the two backends also wait for each other's WAL writes (stock `wal_buffers`); 10,000 due
tasks took 0.71 s instead of 0.91 s on average over five alternating pairs of runs. Inside a
transaction (tests, a caller's atomic block) other connections could not see its rows: it stays on
the caller's connection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .clocks import CLOCKS, clock_windows, next_alert_sql
from .notify import delivery_inserts

# Tasks per step (one transaction, one statement).
DEFAULT_LIMIT = 5000
# Fewer due tasks than this per extra connection are not worth its set-up (connecting, and planning the
# statement on a fresh connection: about 20 ms).
PARALLEL_MIN_PER_WORKER = 2000


# The task columns the sweep reads, taken from the locked row (FOR UPDATE returns its latest version).
_TASK_COLUMNS = ("id", "status", "division_id", "assignee_id", "subunit_id", "clock_alerts") + tuple(
    column for clock in CLOCKS for column in (clock.due_field, clock.stop_field)
)


def _events_values() -> str:
    rows = []
    for clock in CLOCKS:
        due, stop = f"t.{clock.due_field}", f"t.{clock.stop_field}"
        rows.append(
            f"('{clock.name}', 'warning', {due} - %({clock.name}_warn)s, {due}, {clock.warning_bit}, {stop} IS NULL)"
        )
        rows.append(f"('{clock.name}', 'breach', {due}, {due}, {clock.breach_bit}, {stop} IS NULL)")
    return ",\n            ".join(rows)


def _sweep_sql(delivery_ctes: list[str] | None = None, delivery_count: str = "0") -> str:
    """The whole step as one statement (see the module docstring); `delivery_ctes` / `delivery_count`
    come from notify.delivery_inserts("notified")."""
    deliveries = "".join(f",\n    {cte}" for cte in delivery_ctes or [])
    return f"""
    WITH due AS MATERIALIZED (
        SELECT {", ".join(f"t.{c}" for c in _TASK_COLUMNS)}
        FROM tasks_tracingtask t
        WHERE t.next_alert_at IS NOT NULL AND t.next_alert_at <= %(now)s
        ORDER BY t.next_alert_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    events AS MATERIALIZED (
        SELECT t.id AS task_id, t.division_id, c.clock, c.level, c.moment, c.deadline, c.bit
        FROM due t
        CROSS JOIN LATERAL (VALUES
            {_events_values()}
        ) AS c(clock, level, moment, deadline, bit, running)
        WHERE c.running AND c.moment <= %(now)s AND t.clock_alerts & c.bit = 0
          AND NOT (t.status = ANY(%(clockless)s))
    ),
    escalated AS (
        INSERT INTO tasks_escalation (task_id, clock, level, due_at, deadline, division_id, created_at)
        SELECT task_id, clock, level, moment, deadline, division_id, %(now)s FROM events
        ON CONFLICT (task_id, clock, level, deadline) DO NOTHING
        RETURNING id, task_id, clock, level, deadline, division_id
    ),
    bits AS (
        SELECT task_id, bit_or(bit) AS bits FROM events GROUP BY task_id
    ),
    updated AS (
        UPDATE tasks_tracingtask t
        SET clock_alerts = t.clock_alerts | COALESCE(bits.bits, 0),
            next_alert_at = {next_alert_sql({"clock_alerts": "t.clock_alerts | COALESCE(bits.bits, 0)"})}
        FROM due LEFT JOIN bits ON bits.task_id = due.id
        WHERE t.id = due.id
        RETURNING t.id
    ),
    -- The duty desk of each county with a due task, computed once per step (not once per escalation):
    -- the active officers on shift, else every active duty officer scoped to the county.
    counties AS MATERIALIZED (
        SELECT DISTINCT left(division_id, 6) AS county FROM due
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
    ),
    escalation AS MATERIALIZED (
        SELECT e.id, e.task_id, e.level, t.division_id, t.assignee_id, sub.leader_id AS subunit_leader_id,
               tm.leader_id AS team_leader_id,
               jsonb_build_object('clock', e.clock, 'level', e.level, 'deadline', e.deadline, 'division', e.division_id) AS data
        FROM escalated e
        JOIN due t ON t.id = e.task_id
        LEFT JOIN tasks_unit sub ON sub.id = t.subunit_id
        -- Joined here, once per escalation (a hash join), rather than in the breach branch below, where
        -- the planner looped over every team of the province for each escalation.
        LEFT JOIN tasks_unit tm ON tm.kind = 'team' AND tm.division_id = left(t.division_id, 9)
    ),
    recipients AS (
        SELECT e.id, e.assignee_id AS user_id FROM escalation e WHERE e.level = 'warning'
        UNION ALL
        SELECT e.id, e.subunit_leader_id FROM escalation e WHERE e.level = 'warning'
        UNION ALL
        SELECT e.id, e.team_leader_id FROM escalation e WHERE e.level = 'breach'
        UNION ALL
        SELECT e.id, d.user_id FROM escalation e
        JOIN desk d ON d.county = left(e.division_id, 6)
        WHERE e.level = 'breach' OR (e.assignee_id IS NULL AND e.subunit_leader_id IS NULL)
    ),
    notified AS (
        INSERT INTO tasks_notification (recipient_id, kind, task_id, escalation_id, data, created_at)
        SELECT DISTINCT ON (e.id, r.user_id) r.user_id, 'escalation', e.task_id, e.id, e.data, %(now)s
        FROM recipients r JOIN escalation e ON e.id = r.id
        WHERE r.user_id IS NOT NULL
        ORDER BY e.id, r.user_id
        ON CONFLICT (escalation_id, recipient_id) WHERE escalation_id IS NOT NULL DO NOTHING
        RETURNING id, recipient_id, kind, data->>'level' AS level, created_at
    ){deliveries}
    SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM escalated), (SELECT count(*) FROM notified),
           {delivery_count}
    """


_DUE_ROWS_SQL = "SELECT 1 FROM tasks_tracingtask WHERE next_alert_at IS NOT NULL AND next_alert_at <= %(now)s"
_ANY_DUE_SQL = _DUE_ROWS_SQL + " LIMIT 1"
# How many are due, counted up to a cap from the same partial index (index only: cost follows the due rows).
_COUNT_DUE_SQL = f"SELECT count(*) FROM ({_DUE_ROWS_SQL} LIMIT %(cap)s) due"


@dataclass
class SweepResult:
    tasks: int = 0
    escalations: int = 0
    notifications: int = 0
    deliveries: int = 0

    def __iadd__(self, other: SweepResult) -> SweepResult:
        self.tasks += other.tasks
        self.escalations += other.escalations
        self.notifications += other.notifications
        self.deliveries += other.deliveries
        return self


def sweep_step(*, now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> SweepResult:
    """One bounded sweep (see the module docstring). `result.tasks == 0` means nothing was due."""
    now = now or timezone.now()
    delivery_ctes, delivery_count, delivery_params = delivery_inserts("notified")
    with transaction.atomic(), connection.cursor() as cursor:
        # Most minutes nothing is due: one index probe (under a millisecond) instead of planning the
        # statement below (about 2 ms, 20 ms on a fresh connection). Locked rows count as due here; the
        # statement then skips them.
        cursor.execute(_ANY_DUE_SQL, {"now": now})
        if cursor.fetchone() is None:
            return SweepResult()
        cursor.execute(
            _sweep_sql(delivery_ctes, delivery_count),
            {**clock_windows(), **delivery_params, "now": now, "limit": limit},
        )
        tasks, escalations, notifications, deliveries = cursor.fetchone()
    return SweepResult(
        tasks=tasks, escalations=escalations, notifications=notifications, deliveries=deliveries
    )


def _sweep_on_this_connection(now, limit: int, max_rounds: int) -> SweepResult:
    total = SweepResult()
    for _round in range(max_rounds):
        result = sweep_step(now=now, limit=limit)
        total += result
        if result.tasks < limit:
            break
    return total


def run_on_connections(
    loop: Callable[[datetime, int, int], Any],
    *,
    now: datetime,
    limit: int,
    max_rounds: int,
    workers: int,
    count_due_sql: str,
    empty: Callable[[], Any],
    name: str,
) -> Any:
    """Run `loop(now, limit, max_rounds)` (a sweep's steps until one comes back short) on up to `workers`
    connections when enough rows are due (`count_due_sql`, capped by %(cap)s), in equal shares so that
    the connections finish together; results are added up. Shared by every minute sweep: the task
    clocks here, the check-in clocks of the monitoring app. Inside a transaction other connections
    could not see its rows: it stays on the caller's connection."""
    if workers <= 1 or connection.in_atomic_block:
        return loop(now, limit, max_rounds)
    with connection.cursor() as cursor:
        cursor.execute(count_due_sql, {"now": now, "cap": workers * max(limit, PARALLEL_MIN_PER_WORKER)})
        due = cursor.fetchone()[0]
    if not due:
        return empty()
    workers = min(workers, due // PARALLEL_MIN_PER_WORKER)
    if workers <= 1:
        return loop(now, limit, max_rounds)

    def on_own_connection(share: int) -> Any:
        try:
            return loop(now, share, max_rounds)
        finally:
            connection.close()  # this thread's connection (Django keeps one per thread)

    share = min(limit, math.ceil(due / workers))
    with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix=name) as pool:
        others = [pool.submit(on_own_connection, share) for _ in range(workers - 1)]
        total = loop(now, share, max_rounds)
        for future in others:
            total += future.result()
    return total


def sweep(
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    max_rounds: int = 1000,
    workers: int | None = None,
) -> SweepResult:
    """Loop the step until a step finds less than a full batch (or max_rounds, a safety stop); with many
    tasks due, on up to `workers` (SWEEP_WORKERS) connections at once (see the module docstring).

    Each connection loops until its own step comes back short. A step comes back short when it found
    fewer unlocked due rows than its limit, i.e. every other due row is held by another connection's
    step, which will loop again if it was full: no due row is left behind."""
    now = now or timezone.now()
    workers = settings.SWEEP_WORKERS if workers is None else workers
    return run_on_connections(
        _sweep_on_this_connection,
        now=now,
        limit=limit,
        max_rounds=max_rounds,
        workers=workers,
        count_due_sql=_COUNT_DUE_SQL,
        empty=SweepResult,
        name="sweep",
    )
