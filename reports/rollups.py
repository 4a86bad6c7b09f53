"""Reading and checking the rollups (reports/rollup_sql.py keeps them)."""

from __future__ import annotations

from django.db import connection, transaction

from .rollup_sql import CLOCK_STATE, EVENTS, NOT_ENDED, fill_sql

LIVE = {
    "reports_divisioncount": f"""SELECT division_id, status, priority::smallint, ({CLOCK_STATE.format(r="t")})::smallint, count(*)
        FROM tasks_tracingtask t GROUP BY 1, 2, 3, 4""",
    "reports_batchcount": "SELECT batch_id::bigint, left(division_id, 6), status, count(*) FROM tasks_tracingtask GROUP BY 1, 2, 3",
    # date_trunc in UTC rather than the trigger's date_bin: an independent count.
    "reports_kindcount": f"""SELECT division_id, kind, status, outcome,
        coalesce(date_trunc('hour', closed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', {NOT_ENDED}), count(*)
        FROM tasks_tracingtask GROUP BY 1, 2, 3, 4, 5""",
}
ROLLUP = {
    "reports_divisioncount": "SELECT division_code, status, priority, clock_state, n FROM reports_divisioncount WHERE n <> 0",
    "reports_batchcount": "SELECT batch_id, county, status, n FROM reports_batchcount WHERE n <> 0",
    "reports_eventcount": "SELECT county, event, hour, n FROM reports_eventcount WHERE n <> 0",
    "reports_kindcount": "SELECT division_code, kind, status, outcome, closed_hour, n FROM reports_kindcount WHERE n <> 0",
}


def _events_live() -> str:
    # Written differently from the trigger (LATERAL VALUES, date_trunc in UTC) on purpose: an independent count.
    values = ", ".join(f"('{name}', {expr.format(r='t')})" for name, expr in EVENTS)
    return (
        f"SELECT left(t.division_id, 6), e.event, date_trunc('hour', e.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*) "
        f"FROM tasks_tracingtask t CROSS JOIN LATERAL (VALUES {values}) AS e(event, at) WHERE e.at IS NOT NULL GROUP BY 1, 2, 3"
    )


def rollup_differences() -> dict[str, set]:
    """{table: rows in the rollup or the live count but not both}; empty sets when exact."""
    out = {}
    with connection.cursor() as cursor:
        for table, rollup_sql in ROLLUP.items():
            live_sql = LIVE.get(table) or _events_live()
            cursor.execute(live_sql)
            live = {tuple(r) for r in cursor.fetchall()}
            cursor.execute(rollup_sql)
            rolled = {tuple(r) for r in cursor.fetchall()}
            out[table] = live ^ rolled
    return out


@transaction.atomic
def rollups_rebuild() -> None:
    """Recompute every rollup from the tasks (repair tool; takes a SHARE lock: writers wait)."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE tasks_tracingtask IN SHARE MODE")
        cursor.execute(
            "TRUNCATE reports_divisioncount, reports_batchcount, reports_eventcount, reports_kindcount"
        )
        cursor.execute(fill_sql())
