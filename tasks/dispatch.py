"""Automatic dispatch after each intake batch (DESIGN step 2: dispatch within 30 minutes), in sets.

`dispatch_new_tasks` is called by run_intake right after each batch. It works in four statements,
whatever the number of tasks:

1. **Follow the person.** For each new task of the batch, the most recent lead (by reported_at, then
   id) that gives a `current_division` decides where the task goes, overriding the household division
   the intake put on the task — except when that current location is coarser than the household
   village and contains it (the household village is then the more precise truth). The change is
   recorded as a TaskTransition new → new with the household and the current division in `details`.
   This only applies before the first dispatch and to tasks never transferred: once a unit owns a task,
   a person who moved is followed by a transfer (转办), tracked end to end.
2. **Dispatch** every new task whose division is a village that has a sub-unit or a team: team = the
   Unit(kind=team) of the township (code[:9]), sub-unit = the Unit(kind=subunit) of the village,
   assignee = a member of the sub-unit chosen by current open load (water-filling: the k-th task of a
   sub-unit in priority order takes the k-th cheapest slot "load + j" among its members, so 3 tasks
   for members with loads 0, 5, 5 all go to the first), or nobody when DISPATCH_ASSIGN_MODE = "leader"
   (the sub-unit leader assigns). One UPDATE … FROM with a conditional `status = <old>` (a concurrent
   dispatcher or a duty officer who got there first wins; the row is then skipped), one INSERT … SELECT
   of the history rows. The radius and trace clocks start here (unless they already ran: a task
   dispatched again after a transfer keeps its clocks).
3. **The rest wait in the duty desk's queue**: their dispatch clock is started (dispatch_due = batch
   time + DISPATCH_WINDOW when the intake did not set it), next_alert_at computed, and a reason given
   when they have none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .clocks import clock_windows, dispatch_due_cols, next_alert_sql
from .models.tracing import TaskStatus
from .notify import assigned_digest_ctes

# A member's "current open load": tasks assigned to them that still need field work.
OPEN_LOAD_STATUSES = [
    TaskStatus.DISPATCHED,
    TaskStatus.RECEIVED,
    TaskStatus.RADIUS_LIMITED,
    TaskStatus.TRACED,
    TaskStatus.RETURNED,
]


def assign_mode() -> str:
    mode = settings.DISPATCH_ASSIGN_MODE
    if mode not in ("least_load", "leader"):
        raise ValueError(f"DISPATCH_ASSIGN_MODE must be 'least_load' or 'leader', not {mode!r}")
    return mode


def _windows() -> dict:
    return {
        "dispatch_window": timedelta(minutes=settings.DISPATCH_WINDOW_MINUTES),
        "radius_window": timedelta(minutes=settings.RADIUS_WINDOW_MINUTES),
        "trace_window": timedelta(minutes=settings.TRACE_WINDOW_MINUTES),
        **clock_windows(),
    }


# Slots for least-load assignment: every member of every sub-unit involved, once per task that may
# come to them (load + 1, load + 2, ...), numbered cheapest first within the sub-unit. Follows a CTE
# `cand` of the tasks to place, with their `subunit_id`, rank `k` and count `n` within the sub-unit.
SLOTS_SQL = """
subunits AS (
    SELECT subunit_id, max(n) AS n FROM cand WHERE subunit_id IS NOT NULL GROUP BY subunit_id
),
-- MATERIALIZED: count the load of each member once, not once per slot row (the planner would inline it).
members AS MATERIALIZED (
    SELECT m.unit_id, m.user_id,
           (SELECT count(*) FROM tasks_tracingtask x
             WHERE x.assignee_id = m.user_id AND x.status = ANY(%(open_load)s)) AS load
    FROM tasks_unitmembership m
    JOIN subunits s ON s.subunit_id = m.unit_id
    JOIN tasks_user u ON u.id = m.user_id AND u.is_active
    WHERE %(least_load)s
),
slots AS (
    SELECT mb.unit_id, mb.user_id,
           row_number() OVER (PARTITION BY mb.unit_id ORDER BY mb.load + j, mb.user_id) AS k
    FROM members mb
    JOIN subunits s ON s.subunit_id = mb.unit_id
    CROSS JOIN LATERAL generate_series(1, s.n) AS j
)
"""


def dispatch_where(
    where: str,
    params: dict,
    *,
    now,
    from_statuses,
    actor_id=None,
    reason: str = "",
    notify_assignees: bool = True,
) -> list[int]:
    """Dispatch, in one statement, the tasks `t` matching `where` whose status is in `from_statuses`
    and whose division is a village with a unit. Returns the ids dispatched. Caller holds the
    transaction. Each assignee is told in the same statement, one notification for all their tasks
    (`notify_assignees=False` when the caller sends its own, e.g. the transfer's)."""
    now = now or timezone.now()
    new_dispatched_at = "COALESCE(t.dispatched_at, %(now)s)"
    new_cols = {
        "status": "'dispatched'",
        "dispatch_due": "COALESCE(t.dispatch_due, cand.batch_started + %(dispatch_window)s)",
        "dispatched_at": new_dispatched_at,
        # The kind's clocks (tasks/clocks.py KIND_CLOCKS) start at dispatch.
        **dispatch_due_cols(new_dispatched_at, "t.kind"),
    }
    sql = f"""
    WITH cand AS (
        SELECT t.id, t.status AS from_status, sub.id AS subunit_id, team.id AS team_id,
               COALESCE(b.started_at, t.created_at) AS batch_started,
               row_number() OVER (PARTITION BY sub.id ORDER BY t.priority, t.id) AS k,
               count(*) OVER (PARTITION BY sub.id) AS n
        FROM tasks_tracingtask t
        LEFT JOIN tasks_intakebatch b ON b.id = t.batch_id
        LEFT JOIN tasks_unit sub ON sub.division_id = t.division_id AND sub.kind = 'subunit'
        LEFT JOIN tasks_unit team ON team.division_id = left(t.division_id, 9) AND team.kind = 'team'
        WHERE t.status = ANY(%(from_statuses)s) AND length(t.division_id) = 12
          AND (sub.id IS NOT NULL OR team.id IS NOT NULL) AND ({where})
    ),
    {SLOTS_SQL},
    upd AS (
        UPDATE tasks_tracingtask t
        SET status = 'dispatched',
            team_id = cand.team_id,
            subunit_id = cand.subunit_id,
            assignee_id = slots.user_id,
            dispatch_due = {new_cols["dispatch_due"]},
            dispatched_at = {new_cols["dispatched_at"]},
            received_at = NULL,
            radius_due = {new_cols["radius_due"]},
            trace_due = {new_cols["trace_due"]},
            verify_due = {new_cols["verify_due"]},
            register_due = {new_cols["register_due"]},
            unresolved_reason = '',
            updated_at = %(now)s,
            version = t.version + 1,
            next_alert_at = {next_alert_sql(new_cols)}
        FROM cand LEFT JOIN slots ON slots.unit_id = cand.subunit_id AND slots.k = cand.k
        WHERE t.id = cand.id AND t.status = cand.from_status
        RETURNING t.id, cand.from_status, t.team_id, t.subunit_id, t.assignee_id, t.division_id
    ){{digest}}
    INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
    SELECT upd.id, upd.from_status, 'dispatched', %(actor_id)s, %(now)s, %(reason)s,
           jsonb_build_object('division', upd.division_id, 'team', upd.team_id, 'subunit', upd.subunit_id,
                              'assignee', upd.assignee_id)
    FROM upd
    RETURNING task_id
    """
    all_params = {
        **_windows(),
        **params,
        "now": now,
        "from_statuses": [str(s) for s in from_statuses],
        **slot_params(),
        "actor_id": actor_id,
        "reason": reason,
    }
    if notify_assignees:
        digest_ctes, digest_params = assigned_digest_ctes("upd")
        sql = sql.replace("{digest}", ",\n" + ",\n".join(digest_ctes), 1)
        all_params.update(digest_params, digest_now=now)
    else:
        sql = sql.replace("{digest}", "", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return [row[0] for row in cursor.fetchall()]


def follows(household: str, current: str) -> str:
    """SQL: the current location `current` overrides the household division `household` — unless it is
    the same, or coarser and containing it (the household village is then the more precise truth)."""
    return (
        f"({household} <> {current} "
        f"AND NOT (length({current}) < length({household}) AND {household} LIKE {current} || '%%'))"
    )


def follow_reasons() -> dict[str, str]:
    """SQL parameters of the follow-the-person step: the transition's reason, and the queue reason of a
    task whose current location is coarser than a village."""
    return {
        "why": _("Follow the person: a lead gives the person's current location"),
        "coarse_reason": _("The person's current location is known only to a township, county or city"),
    }


def slot_params() -> dict:
    """SQL parameters of SLOTS_SQL."""
    return {"open_load": [str(s) for s in OPEN_LOAD_STATUSES], "least_load": assign_mode() == "least_load"}


def _follow_the_person(scope: str, params: dict, now) -> int:
    sql = f"""
    WITH cur AS (
        SELECT DISTINCT ON (k.task_id) k.task_id, l.current_division_id AS code, l.id AS lead_id
        FROM tasks_leadlink k
        JOIN tasks_lead l ON l.id = k.lead_id
        JOIN tasks_tracingtask t ON t.id = k.task_id
        WHERE l.current_division_id IS NOT NULL AND t.status = 'new' AND t.dispatched_at IS NULL AND ({scope})
        ORDER BY k.task_id, l.reported_at DESC, l.id DESC
    ),
    moved AS (
        SELECT t.id, t.division_id AS household, cur.code, cur.lead_id
        FROM tasks_tracingtask t JOIN cur ON cur.task_id = t.id
        WHERE {follows("t.division_id", "cur.code")}
          AND NOT EXISTS (SELECT 1 FROM tasks_transfer tr WHERE tr.task_id = t.id)
    ),
    upd AS (
        UPDATE tasks_tracingtask t
        SET division_id = moved.code,
            unresolved_reason = CASE WHEN length(moved.code) = 12 THEN '' ELSE %(coarse_reason)s END,
            updated_at = %(now)s
        FROM moved WHERE t.id = moved.id AND t.status = 'new'
        RETURNING t.id, moved.household, moved.code, moved.lead_id
    )
    INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
    SELECT upd.id, 'new', 'new', NULL, %(now)s, %(why)s,
           jsonb_build_object('follow_the_person', true, 'division', jsonb_build_object('from', upd.household, 'to', upd.code),
                              'lead', upd.lead_id)
    FROM upd
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {**params, **follow_reasons(), "now": now},
        )
        return cursor.rowcount


def plan_intake_dispatch(cursor) -> None:
    """Dispatch planned inside the intake batch (tasks/intake.py), on its work table `intake_person`:
    follow the person, then choose the team, sub-unit and assignee of each task about to be created,
    exactly as dispatch_where would right after, so that the intake inserts the task already dispatched:
    a task is written once (an UPDATE of every new task would rewrite each row and all its index
    entries, the largest cost of a batch). The plan is the work table `intake_dispatch` (person_id,
    team_id, subunit_id, assignee_id); what is not in it is left to dispatch_new_tasks."""
    cursor.execute(
        f"""
        UPDATE intake_person ip SET household_id = ip.division_id, division_id = ip.current_division_id,
            unresolved_reason = CASE WHEN length(ip.current_division_id) = 12 THEN '' ELSE %(coarse_reason)s END
        WHERE ip.task_id IS NULL AND ip.current_division_id IS NOT NULL
          AND {follows("ip.division_id", "ip.current_division_id")}
        """,
        follow_reasons(),
    )
    # The k-th task of a sub-unit (by priority, then creation order = person order) takes its k-th
    # cheapest member slot. A table of its own rather than an UPDATE of intake_person: rewriting every
    # row of a large temporary table goes through the small temp_buffers (and is slow). Inserted in
    # key order: random inserts into its primary key through those buffers cost 2 s at a million.
    cursor.execute(
        f"""
        INSERT INTO intake_dispatch (person_id, team_id, subunit_id, assignee_id)
        WITH cand AS (
            SELECT ip.person_id, sub.id AS subunit_id, team.id AS team_id,
                   row_number() OVER (PARTITION BY sub.id ORDER BY ip.priority, ip.person_id) AS k,
                   count(*) OVER (PARTITION BY sub.id) AS n
            FROM intake_person ip
            LEFT JOIN tasks_unit sub ON sub.division_id = ip.division_id AND sub.kind = 'subunit'
            LEFT JOIN tasks_unit team ON team.division_id = left(ip.division_id, 9) AND team.kind = 'team'
            WHERE ip.task_id IS NULL AND length(ip.division_id) = 12 AND (sub.id IS NOT NULL OR team.id IS NOT NULL)
        ),
        {SLOTS_SQL}
        SELECT cand.person_id, cand.team_id, cand.subunit_id, slots.user_id AS assignee_id
        FROM cand LEFT JOIN slots ON slots.unit_id = cand.subunit_id AND slots.k = cand.k
        ORDER BY cand.person_id
        """,
        slot_params(),
    )
    cursor.execute("ANALYZE intake_dispatch")


def start_waiting_clocks(scope: str, params: dict, now) -> int:
    """New tasks that stay in the duty desk's queue: start their dispatch clock, compute
    next_alert_at, and give a reason when there is none."""
    new_cols = {
        "dispatch_due": "COALESCE(t.dispatch_due, COALESCE(b.started_at, t.created_at) + %(dispatch_window)s)"
    }
    sql = f"""
    UPDATE tasks_tracingtask t
    SET dispatch_due = {new_cols["dispatch_due"]},
        next_alert_at = {next_alert_sql(new_cols)},
        unresolved_reason = CASE
            WHEN t.unresolved_reason <> '' THEN t.unresolved_reason
            WHEN length(t.division_id) < 12 THEN %(reason_no_village)s
            ELSE %(reason_no_unit)s END
    FROM tasks_intakebatch b
    WHERE b.id = t.batch_id AND t.status = 'new' AND ({scope})
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                **_windows(),
                **params,
                "now": now,
                "reason_no_village": _("The village is unknown"),
                "reason_no_unit": _("The village has no investigation team or sub-unit"),
            },
        )
        return cursor.rowcount


def dispatch_new_tasks(
    *, batch_id: int | None = None, now: datetime | None = None, follow: bool = True
) -> int:
    """Dispatch the new tasks (of one batch, or all) in sets; return how many were dispatched.
    `follow=False` when the person was already followed (the intake's plan_intake_dispatch did it)."""
    now = now or timezone.now()
    scope, params = (
        ("t.batch_id = %(batch_id)s", {"batch_id": batch_id}) if batch_id is not None else ("TRUE", {})
    )
    # Reasons and history are stored text: in the site's language, whatever the caller's (as the intake).
    with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
        if follow:
            _follow_the_person(scope, params, now)
        dispatched = dispatch_where(
            scope,
            params,
            now=now,
            from_statuses=[TaskStatus.NEW],
            reason=_("Automatic dispatch after the intake batch"),
        )
        start_waiting_clocks(scope, params, now)
    return len(dispatched)
