"""The deadline sweep (issue 4): every minute, record the clock warnings and breaches that are due.

`sweep_step` is one bounded unit of work, in one transaction and two statements:

1. Claim up to `limit` due tasks — `next_alert_at <= now`, read through the partial index
   `task_next_alert_due` (only tasks with a running clock are in it, so the cost follows the rows that
   are due, not the table) — with `FOR UPDATE SKIP LOCKED`; for each, compute every (clock, level)
   whose moment has come and whose bit in `clock_alerts` is not set; INSERT the Escalation rows
   (`ON CONFLICT (task, clock, level, deadline) DO NOTHING`: the unique constraint is the last guard); set the
   bits and advance `next_alert_at` to the next pending moment (or NULL).
2. INSERT the Notification rows for the escalations just recorded (warning → the assignee and the
   sub-unit leader, or the duty desk when the task has neither, e.g. a dispatch warning of a task still
   in the queue; breach → the team leader and the duty desk: the officers on shift at the county (or
   city) desk, else every duty officer scoped to it), and their SMS / e-mail delivery rows.

Two sweeps at the same time: the second skips the rows the first has locked; a row the first has
already committed is re-checked by FOR UPDATE against its new `next_alert_at` and is no longer due. So
each escalation is recorded once, and notified once (unique escalation + recipient).

`sweep` loops the step until a step finds less than a full batch; the Celery beat job and
`manage.py sweep_deadlines [--now ISO8601]` both call it. `now` evaluates the clocks as of that time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .clocks import CLOCKS, clock_windows, next_alert_sql
from .notify import create_deliveries_for


def _events_values() -> str:
    rows = []
    for clock in CLOCKS:
        due, stop = f"t.{clock.due_field}", f"t.{clock.stop_field}"
        rows.append(f"('{clock.name}', 'warning', {due} - %({clock.name}_warn)s, {due}, {clock.warning_bit}, {stop} IS NULL)")
        rows.append(f"('{clock.name}', 'breach', {due}, {due}, {clock.breach_bit}, {stop} IS NULL)")
    return ",\n            ".join(rows)


def _sweep_sql() -> str:
    return f"""
    WITH due AS (
        SELECT t.id FROM tasks_tracingtask t
        WHERE t.next_alert_at IS NOT NULL AND t.next_alert_at <= %(now)s
        ORDER BY t.next_alert_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    events AS (
        SELECT t.id AS task_id, t.division_id, c.clock, c.level, c.moment, c.deadline, c.bit
        FROM tasks_tracingtask t
        JOIN due ON due.id = t.id
        CROSS JOIN LATERAL (VALUES
            {_events_values()}
        ) AS c(clock, level, moment, deadline, bit, running)
        WHERE c.running AND c.moment <= %(now)s AND t.clock_alerts & c.bit = 0
          AND NOT (t.status = ANY(%(clockless)s))
    ),
    ins AS (
        INSERT INTO tasks_escalation (task_id, clock, level, due_at, deadline, division_id, created_at)
        SELECT task_id, clock, level, moment, deadline, division_id, %(now)s FROM events
        ON CONFLICT (task_id, clock, level, deadline) DO NOTHING
        RETURNING id
    ),
    bits AS (
        SELECT due.id, COALESCE(bit_or(events.bit), 0) AS bits
        FROM due LEFT JOIN events ON events.task_id = due.id
        GROUP BY due.id
    ),
    upd AS (
        UPDATE tasks_tracingtask t
        SET clock_alerts = t.clock_alerts | bits.bits,
            next_alert_at = {next_alert_sql({"clock_alerts": "t.clock_alerts | bits.bits"})}
        FROM bits WHERE t.id = bits.id
        RETURNING t.id
    )
    SELECT (SELECT count(*) FROM upd), COALESCE((SELECT array_agg(id) FROM ins), '{{}}')
    """


# Recipients per escalation; `e` is the escalation, `t` its task.
_DESK_OFFICERS = """
    SELECT s.user_id FROM tasks_dutyshift s
    JOIN tasks_unit du ON du.id = s.unit_id AND du.kind = 'duty_desk' AND du.division_id = left(t.division_id, 6)
    JOIN tasks_user su ON su.id = s.user_id AND su.is_active
    WHERE s.starts_at <= %(now)s AND s.ends_at > %(now)s
    UNION ALL
    SELECT u.id FROM tasks_user u
    WHERE u.role = 'duty_officer' AND u.is_active AND u.division_id = left(t.division_id, 6)
      AND NOT EXISTS (
        SELECT 1 FROM tasks_dutyshift s
        JOIN tasks_unit du ON du.id = s.unit_id AND du.kind = 'duty_desk' AND du.division_id = left(t.division_id, 6)
        JOIN tasks_user su ON su.id = s.user_id AND su.is_active
        WHERE s.starts_at <= %(now)s AND s.ends_at > %(now)s)
"""

_NOTIFY_SQL = f"""
    INSERT INTO tasks_notification (recipient_id, kind, task_id, escalation_id, data, created_at)
    SELECT DISTINCT ON (e.id, r.user_id) r.user_id, 'escalation', e.task_id, e.id,
           jsonb_build_object('clock', e.clock, 'level', e.level, 'deadline', e.deadline, 'division', e.division_id),
           %(now)s
    FROM tasks_escalation e
    JOIN tasks_tracingtask t ON t.id = e.task_id
    LEFT JOIN tasks_unit sub ON sub.id = t.subunit_id
    CROSS JOIN LATERAL (
        SELECT t.assignee_id WHERE e.level = 'warning'
        UNION ALL
        SELECT sub.leader_id WHERE e.level = 'warning'
        UNION ALL
        SELECT tm.leader_id FROM tasks_unit tm
        WHERE e.level = 'breach' AND tm.kind = 'team' AND tm.division_id = left(t.division_id, 9)
        UNION ALL
        SELECT d.user_id FROM ({_DESK_OFFICERS}) AS d(user_id)
        WHERE e.level = 'breach' OR (t.assignee_id IS NULL AND sub.leader_id IS NULL)
    ) AS r(user_id)
    WHERE e.id = ANY(%(ids)s) AND r.user_id IS NOT NULL
    ORDER BY e.id, r.user_id
    ON CONFLICT (escalation_id, recipient_id) WHERE escalation_id IS NOT NULL DO NOTHING
    RETURNING id
"""


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


def sweep_step(*, now=None, limit: int = 5000) -> SweepResult:
    """One bounded sweep (see the module docstring). `result.tasks == 0` means nothing was due."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_sweep_sql(), {**clock_windows(), "now": now, "limit": limit})
        tasks, escalation_ids = cursor.fetchone()
        result = SweepResult(tasks=tasks, escalations=len(escalation_ids))
        if escalation_ids:
            cursor.execute(_NOTIFY_SQL, {"now": now, "ids": list(escalation_ids)})
            notification_ids = [row[0] for row in cursor.fetchall()]
            result.notifications = len(notification_ids)
            result.deliveries = create_deliveries_for(notification_ids)
    return result


def sweep(*, now=None, limit: int = 5000, max_rounds: int = 1000) -> SweepResult:
    """Loop the step until a step finds less than a full batch (or max_rounds, a safety stop)."""
    now = now or timezone.now()
    total = SweepResult()
    for _round in range(max_rounds):
        result = sweep_step(now=now, limit=limit)
        total += result
        if result.tasks < limit:
            break
    return total
