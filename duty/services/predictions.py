"""Predicted breaches: per township of a territory, the open tasks expected to breach their next deadline
in the next hours if the township's workers handle its queue in deadline order at the median rate.

The model, per township (level-4 division; one team per township):

- the queue: its open tasks whose next running deadline (the earliest of the dispatch, radius, trace,
  rework, verify and register clocks still running, tasks/clocks.py) comes within the horizon, in
  deadline order (tasks already past their deadline first: they still take the team's time);
- the workers: active field staff and team leaders whose scope lies inside the township (its team and
  its village sub-units: the accounts a task of the township can be assigned to, tasks/workflow.py);
- the service time of a task: the median time of its next clock step — from the step's start to the
  milestone that stops the clock — among the tasks of the township dispatched in the last 7 days (the
  window of the SLA statistics, read through the same `reports_task_dispatched_at` index), else of the
  whole territory, else half the clock's window;
- handled in queue order by `w` workers at that rate, the k-th task is done at
  now + max(its own service time, (service times of tasks 1..k) / w); it is expected to breach when that
  is after its deadline and its deadline is still ahead (tasks already breached are counted apart); a
  township without workers is expected to breach every deadline of its queue.

All of it is one statement over the partial index `duty_task_next_deadline` (the territory's open tasks
by next deadline, migration 0030): the medians with GROUPING SETS, the running sums with a window
function, counts per hour and the worst tasks per township aggregated in SQL. With each township come the
rebalancing suggestions of the workload feature for the team and sub-units inside it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from reports.rollup_sql import ACTIVE
from tasks.clocks import CLOCKS
from tasks.models.territory import CODE_LENGTH, Level
from tasks.models.tracing import ACTIVE_STATUSES
from tasks.workflow import ASSIGNABLE, ASSIGNEE_ROLES

from .workload import _suggestions

MAX_HOURS = 4
DEFAULT_HOURS = 2
WORST_PER_TOWNSHIP = 5
MEDIAN_WINDOW = timedelta(days=7)
TOWNSHIP = CODE_LENGTH[Level.TOWNSHIP]

# The earliest running deadline of a task and the clock it belongs to. Bare column names: the same text
# is the expression of the partial index (migration 0030), and the planner matches them literally.
NEXT_DUE = (
    "LEAST(" + ", ".join(f"CASE WHEN {c.stop_field} IS NULL THEN {c.due_field} END" for c in CLOCKS) + ")"
)
NEXT_STEP = (
    "CASE "
    + " ".join(f"WHEN {c.stop_field} IS NULL AND {c.due_field} = {NEXT_DUE} THEN '{c.name}'" for c in CLOCKS)
    + " END"
)

# When each clock step starts and which milestone ends it (the durations the medians are taken of).
STEP_DURATIONS = {
    "dispatch": "t.dispatched_at - (t.dispatch_due - %(dispatch_window)s)",
    "radius": "t.radius_limited_at - t.dispatched_at",
    "trace": "t.traced_at - GREATEST(t.dispatched_at, t.radius_limited_at)",
    "rework": "t.rework_done_at - (t.rework_due - %(rework_window)s)",
    "verify": "t.verified_at - t.dispatched_at",
    "register": "t.registered_at - t.dispatched_at",
}

INDEX_NAME = "duty_task_next_deadline"
INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON tasks_tracingtask "
    f"(division_id varchar_pattern_ops, ({NEXT_DUE})) WHERE status IN {ACTIVE}"
)


def _sql(hours: int) -> str:
    durations = ", ".join(f"('{name}', {expr})" for name, expr in STEP_DURATIONS.items())
    defaults = " ".join(f"WHEN '{c.name}' THEN %({c.name}_half)s" for c in CLOCKS)
    per_hour = ", ".join(f"count(*) FILTER (WHERE s.late AND s.hour = {h})" for h in range(1, hours + 1))
    return f"""
    WITH queue AS MATERIALIZED (
        SELECT t.id, left(t.division_id, {TOWNSHIP}) AS township, t.kind, t.status, t.assignee_id,
               {NEXT_DUE} AS due, {NEXT_STEP} AS step
        FROM tasks_tracingtask t
        WHERE t.status IN {ACTIVE} AND t.division_id LIKE %(prefix)s
          AND {NEXT_DUE} <= %(horizon)s AND length(t.division_id) >= {TOWNSHIP}
    ),
    medians AS (
        SELECT GROUPING(x.township) = 1 AS overall, x.township, x.step,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY x.seconds) AS seconds
        FROM (
            SELECT left(t.division_id, {TOWNSHIP}) AS township, d.step, extract(epoch FROM d.took) AS seconds
            FROM tasks_tracingtask t CROSS JOIN LATERAL (VALUES {durations}) AS d(step, took)
            WHERE t.dispatched_at IS NOT NULL AND t.dispatched_at >= %(since)s AND t.dispatched_at <= %(now)s
              AND t.division_id LIKE %(prefix)s AND d.took IS NOT NULL AND d.took >= interval '0'
        ) x
        GROUP BY GROUPING SETS ((x.township, x.step), (x.step))
    ),
    workers AS (
        SELECT left(u.division_id, {TOWNSHIP}) AS township, count(*) AS n
        FROM tasks_user u
        WHERE u.is_active AND u.role = ANY(%(roles)s) AND u.division_id LIKE %(prefix)s
          AND length(u.division_id) >= {TOWNSHIP}
        GROUP BY 1
    ),
    served AS (
        SELECT q.*, COALESCE(w.n, 0) AS workers,
               COALESCE(mt.seconds, ma.seconds, CASE q.step {defaults} END) AS service
        FROM queue q
        LEFT JOIN workers w ON w.township = q.township
        LEFT JOIN medians mt ON NOT mt.overall AND mt.township = q.township AND mt.step = q.step
        LEFT JOIN medians ma ON ma.overall AND ma.step = q.step
    ),
    timed AS (
        -- Nobody to do the work: no moment of completion, every deadline ahead is expected to breach.
        SELECT s.*, CASE WHEN s.workers > 0 THEN %(now)s + make_interval(secs => GREATEST(
                   s.service,
                   sum(s.service) OVER (PARTITION BY s.township ORDER BY s.due, s.id ROWS UNBOUNDED PRECEDING)
                   / GREATEST(s.workers, 1))) END AS expected
        FROM served s
    ),
    scored AS (
        SELECT t.*, t.due > %(now)s AND (t.expected IS NULL OR t.expected > t.due) AS late,
               ceil(extract(epoch FROM t.due - %(now)s) / 3600)::int AS hour
        FROM timed t
    ),
    worst AS (
        SELECT r.township,
               jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind, 'status', r.status, 'step', r.step,
                                            'assignee', r.assignee_id, 'due', r.due, 'expected', r.expected)
                         ORDER BY r.rank) AS tasks
        FROM (SELECT s.*, row_number() OVER (PARTITION BY s.township ORDER BY s.expected - s.due DESC NULLS FIRST, s.due, s.id) AS rank
              FROM scored s WHERE s.late) r
        WHERE r.rank <= %(worst)s
        GROUP BY r.township
    ),
    counts AS (
        SELECT s.township, count(*) AS queue, count(*) FILTER (WHERE s.due <= %(now)s) AS breached,
               ARRAY[{per_hour}] AS per_hour, max(s.workers) AS workers
        FROM scored s GROUP BY s.township
    )
    SELECT d.code, d.name, COALESCE(c.queue, 0), COALESCE(c.breached, 0), c.per_hour,
           COALESCE(c.workers, w.n, 0), wo.tasks,
           (SELECT jsonb_object_agg(m.step, round((m.seconds / 60)::numeric, 1)) FROM medians m
             WHERE NOT m.overall AND m.township = d.code)
    FROM tasks_division d
    LEFT JOIN counts c ON c.township = d.code
    LEFT JOIN workers w ON w.township = d.code
    LEFT JOIN worst wo ON wo.township = d.code
    WHERE d.level = 'township' AND (d.code LIKE %(prefix)s OR %(root)s LIKE d.code || '%%')
    ORDER BY d.code
    """


def predicted_breaches(prefix: str, *, hours: int = DEFAULT_HOURS, now: datetime | None = None) -> dict:
    """The predicted breaches of the territory `prefix` (a division code; "" for everything) over the
    next `hours` (1 to MAX_HOURS)."""
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be between 1 and {MAX_HOURS}")
    now = now or timezone.now()
    params: dict[str, Any] = {
        "prefix": prefix + "%",
        "root": prefix,
        "now": now,
        "horizon": now + timedelta(hours=hours),
        "since": now - MEDIAN_WINDOW,
        "roles": sorted(ASSIGNEE_ROLES),
        "worst": WORST_PER_TOWNSHIP,
        "dispatch_window": timedelta(minutes=settings.DISPATCH_WINDOW_MINUTES),
        "rework_window": timedelta(minutes=settings.REVIEW_RETURN_WINDOW_MINUTES),
        **{f"{c.name}_half": c.window.total_seconds() / 2 for c in CLOCKS},
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(hours), params)
        rows = cursor.fetchall()
        suggestions = _suggestions_by_township(
            cursor,
            {
                "prefix": prefix + "%",
                "active": [str(s) for s in ACTIVE_STATUSES],
                "assignable": sorted(ASSIGNABLE),
                "roles": sorted(ASSIGNEE_ROLES),
            },
        )

    townships = []
    for code, name, queue, breached, per_hour, workers, worst, medians in rows:
        # Django's psycopg setup hands jsonb over as text.
        worst, medians = _json(worst), _json(medians)
        per_hour = list(per_hour or [0] * hours)
        townships.append(
            {
                "code": code,
                "name": name,
                "queue": queue,
                "already_breached": breached,
                "workers": workers,
                "expected_breaches": sum(per_hour),
                "per_hour": [
                    {"hour": h, "until": timezone.localtime(now + timedelta(hours=h)).isoformat(), "count": n}
                    for h, n in enumerate(per_hour, start=1)
                ],
                "median_minutes": {k: float(v) for k, v in (medians or {}).items()},
                "worst": [_worst(task) for task in worst or []],
                "suggestions": suggestions.get(code, []),
            }
        )
    # The townships in trouble first, then the rest in code order.
    townships.sort(key=lambda t: (-t["expected_breaches"], -t["already_breached"], t["code"]))
    return {
        "division": prefix,
        "now": timezone.localtime(now).isoformat(),
        "hours": hours,
        "expected_breaches": sum(t["expected_breaches"] for t in townships),
        "townships": townships,
    }


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _worst(task: dict) -> dict:
    from django.utils.dateparse import parse_datetime

    due = parse_datetime(task["due"]) if task["due"] else None
    expected = parse_datetime(task["expected"]) if task["expected"] else None
    late = (expected - due).total_seconds() / 60 if due and expected else None
    return {
        "id": task["id"],
        "url": f"/tasks/{task['id']}/",
        "kind": task["kind"],
        "status": task["status"],
        "step": task["step"],
        "assignee": task["assignee"],
        "due": timezone.localtime(due).isoformat() if due else None,
        "expected_done": timezone.localtime(expected).isoformat() if expected else None,
        "minutes_late": round(late, 1) if late is not None else None,
    }


def _suggestions_by_township(cursor, params: dict) -> dict[str, list[dict]]:
    """The workload feature's suggestions (duty/services/workload.py), grouped by the township of their
    unit (a team is its township; a sub-unit is a village of one)."""
    from tasks.models import Unit

    found = _suggestions(cursor, params)
    units = dict(
        Unit.objects.filter(pk__in=[s["unit"]["id"] for s in found]).values_list("pk", "division_id")
    )
    out: dict[str, list[dict]] = {}
    for suggestion in found:
        code = units.get(suggestion["unit"]["id"], "")[:TOWNSHIP]
        out.setdefault(code, []).append(suggestion)
    return out


def predicted_breaches_shared(prefix: str, *, hours: int = DEFAULT_HOURS) -> dict:
    """predicted_breaches(prefix, hours) shared by every reader of that territory for
    WORKLOAD_CACHE_SECONDS (0 = off), like the workload API (duty/services/shared.py). The answer depends
    on the territory and the hours only."""
    from .shared import shared_answer

    return shared_answer(
        f"duty:predicted:{prefix or '-'}:{hours}",
        settings.WORKLOAD_CACHE_SECONDS,
        lambda: predicted_breaches(prefix, hours=hours),
    )
