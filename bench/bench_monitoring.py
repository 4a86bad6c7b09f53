"""Health monitoring: the day's check-ins due and the sweep of the misses (monitoring/sweep.py).

Figures (targets from the issue, PostgreSQL, 2 cores), with 100,000 people in monitoring, all due at
the same moment and none checking in:
* the day's check-ins due: the "due today" list of one village (the sub-unit's phone page), read through
  the partial index `period_division_prefix`, and the count of what is still due today, for the province
  and by village;
* the sweep of the misses, edge by edge: the reminder at the due hour (to the sub-unit's members), the
  sub-unit leader CHECKIN_GRACE_HOURS later, the duty desk at the next due hour (with the next day's
  reminders, due at the same moment): each < 5 s; floor: a bare UPDATE of `next_due_at` of the same
  periods in the same run (the one write the sweep cannot avoid; the update trigger moves their rows of
  the clock table too).

People, periods and staff are generated with set SQL (generate_series, INSERT … SELECT), never ORM loops.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection

from bench.bench_dispatch import _insert_select, _timed_sql

OPEN = "('running', 'escalated')"
LIST_SQL = (
    "SELECT p.id, p.person_id, p.due_day, p.checkin_alerts, p.consecutive_misses, p.last_checkin_at "
    "FROM monitoring_monitoringperiod p WHERE p.division_id = %(village)s AND p.state IN " + OPEN + " "
    "AND p.due_day <= %(today)s ORDER BY p.due_day, p.id"
)
COUNT_SQL = (
    "SELECT count(*) FROM monitoring_monitoringperiod WHERE state IN " + OPEN + " AND due_day <= %(today)s"
)
COUNT_BY_VILLAGE_SQL = (
    "SELECT division_id, count(*) FROM monitoring_monitoringperiod WHERE state IN " + OPEN + " "
    "AND due_day <= %(today)s GROUP BY division_id"
)


def _staff(bench, t0) -> int:
    """Two grid workers per village sub-unit and its leader; one duty officer per county (with a phone:
    the desk's misses go by SMS)."""
    from tasks.models import UnitMembership, User

    user_columns = {
        "password": "'!'",
        "is_superuser": "false",
        "first_name": "''",
        "last_name": "''",
        "email": "''",
        "is_staff": "false",
        "is_active": "true",
        "date_joined": "%(t0)s",
        "full_name": "''",
    }
    _insert_select(
        User,
        {
            **user_columns,
            "username": "'mon_' || u.id || '_' || g",
            "role": "CASE WHEN g = 0 THEN 'team_leader' ELSE 'field_staff' END",
            "division_id": "u.division_id",
            "phone": "CASE WHEN g = 0 THEN '139' || lpad(u.id::text, 8, '0') ELSE '' END",
        },
        "FROM tasks_unit u CROSS JOIN generate_series(0, 2) AS g WHERE u.kind = 'subunit'",
        {"t0": t0},
    )
    _insert_select(
        User,
        {
            **user_columns,
            "username": "'mon_desk_' || u.id",
            "role": "'duty_officer'",
            "division_id": "u.division_id",
            "phone": "'138' || lpad(u.id::text, 8, '0')",
        },
        "FROM tasks_unit u WHERE u.kind = 'duty_desk' AND length(u.division_id) = 6",
        {"t0": t0},
    )
    _insert_select(
        UnitMembership,
        {"unit_id": "u.id", "user_id": "usr.id", "joined_at": "%(t0)s"},
        "FROM tasks_unit u JOIN tasks_user usr ON usr.division_id = u.division_id AND usr.role = 'field_staff' "
        "AND usr.username LIKE 'mon\\_%%' WHERE u.kind = 'subunit'",
        {"t0": t0},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tasks_unit u SET leader_id = usr.id FROM tasks_user usr WHERE usr.division_id = u.division_id "
            "AND usr.role = 'team_leader' AND usr.username LIKE 'mon\\_%%' AND u.kind = 'subunit'",
            [],
        )
        cursor.execute("SELECT count(*) FROM tasks_unit WHERE kind = 'subunit'")
        return cursor.fetchone()[0]


def _people_in_monitoring(n: int, t0, first_day: date, due_day: date) -> None:
    from monitoring.clock import next_moment
    from monitoring.models import MonitoringPeriod
    from tasks.models import Person

    _insert_select(
        Person,
        {
            "person_key": "'mon:' || g",
            "id_number": "''",
            "id_number_hash": "''",
            "name": "''",
            "phone": "''",
            "phone_hash": "''",
            "created_at": "%(t0)s",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {"t0": t0, "n": n},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM tasks_person WHERE person_key LIKE 'mon:%%'", [])
        first_person = cursor.fetchone()[0]
    village_cte = (
        "WITH v AS (SELECT id AS subunit_id, division_id, row_number() OVER (ORDER BY division_id) - 1 AS i "
        "FROM tasks_unit WHERE kind = 'subunit'), nv AS (SELECT count(*) AS c FROM v) "
    )
    _insert_select(
        MonitoringPeriod,
        {
            "person_id": "%(p0)s + g - 1",
            "origin": "'registration'",
            "measure": "'health_monitoring'",
            "division_id": "v.division_id",
            "subunit_id": "v.subunit_id",
            "starts_on": "%(first)s",
            "ends_on": "%(first)s::date + 13",
            "state": "'running'",
            "state_changed_at": "%(t0)s",
            "due_day": "%(due)s",
            "checkin_alerts": "0",
            "next_due_at": "%(next)s",
            "consecutive_misses": "0",
            "abnormal_open": "false",
            "link_token_hash": "''",
            "note": "''",
            "created_at": "%(t0)s",
            "updated_at": "%(t0)s",
        },
        "FROM generate_series(1, %(n)s) AS g, nv JOIN v ON TRUE WHERE v.i = g %% nv.c",
        {
            "p0": first_person,
            "n": n,
            "t0": t0,
            "first": first_day,
            "due": due_day,
            "next": next_moment(due_day, 0),
        },
        with_sql=village_cte,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitoring_monitoringperiod")
        cursor.execute("VACUUM ANALYZE tasks_person")
        cursor.execute("ANALYZE tasks_user")
        cursor.execute("ANALYZE tasks_unitmembership")
        # The setup's WAL would otherwise be checkpointed during the timed part. Untimed.
        cursor.execute("CHECKPOINT")


def _best_of(bench, sql: str, params: dict, runs: int = 5) -> float:
    return min(_timed_sql(bench, sql, params) for _ in range(runs))


def run(bench) -> None:
    from django.utils import timezone

    from monitoring.clock import alert_moments, local_day
    from monitoring.sweep import sweep

    n = bench.scaled(100_000, 100)
    t0 = timezone.now().replace(microsecond=0)
    first_day = local_day(t0) + timedelta(days=1)  # registered today: first due tomorrow
    due_day = first_day
    moments = alert_moments(due_day)
    edges = [
        ("reminder", moments[1]),
        ("sub-unit leader", moments[2]),
        ("duty desk (and the next day's reminders)", moments[4]),
    ]

    with bench.timer() as t:
        villages = _staff(bench, t0)
    bench.report(f"setup: staff for {villages:,} village sub-units and the county desks", t.seconds, "s")
    with bench.timer() as t:
        _people_in_monitoring(n, t0, first_day, due_day)
    bench.report(f"setup: {n:,} people in monitoring, all due on {due_day} by the same hour", t.seconds, "s")

    # --- the day's check-ins due ------------------------------------------------------------------
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT division_id FROM monitoring_monitoringperiod GROUP BY division_id ORDER BY count(*) DESC, "
            "division_id LIMIT 1"
        )
        village = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM monitoring_monitoringperiod WHERE division_id = %s", [village])
        in_village = cursor.fetchone()[0]
    params = {"village": village, "today": due_day}
    listed = _best_of(bench, LIST_SQL, params)
    floor = _best_of(bench, "SELECT 1", {})
    bench.report(
        f'"due today" list of one village ({in_village} people)', listed * 1000, "ms", floor=floor * 1000
    )
    bench.note("EXPLAIN of the village's list:")
    bench.note(bench.explain(LIST_SQL, params))
    counted = _best_of(bench, COUNT_SQL, params)
    seq_floor = _best_of(bench, "SELECT count(*) FROM monitoring_monitoringperiod", {})
    bench.report(
        f"count of the check-ins due today, province ({n:,} people)",
        counted * 1000,
        "ms",
        floor=seq_floor * 1000,
    )
    by_village = _best_of(bench, COUNT_BY_VILLAGE_SQL, params)
    bench.report(
        f"counts due today by village ({villages:,} villages)",
        by_village * 1000,
        "ms",
        floor=seq_floor * 1000,
    )

    # --- the sweep, edge by edge ------------------------------------------------------------------
    total = 0.0
    for label, moment in edges:
        # Where a step's time goes: EXPLAIN (ANALYZE, BUFFERS) of one step of 5,000 periods, rolled back
        # (its dead rows are vacuumed with the floor's below); only the writing nodes and the totals.
        bench.note(f"EXPLAIN ANALYZE of one step of 5,000 periods at the {label} edge (rolled back):")
        bench.note(_step_profile(bench, moment))
        # Floor: a bare UPDATE of next_due_at of the same (due) periods, rolled back, in the same run.
        floor = _timed_sql(
            bench,
            "UPDATE monitoring_monitoringperiod SET next_due_at = next_due_at + interval '1 second' "
            "WHERE next_due_at IS NOT NULL AND next_due_at <= %(now)s AND state IN " + OPEN,
            {"now": moment},
            rollback=True,
        )
        with connection.cursor() as cursor:
            # The rolled-back floor left a dead version of every row; vacuum it so that the sweep starts
            # from the state the floor started from (as the dispatch bench).
            cursor.execute("VACUUM monitoring_monitoringperiod")
        with bench.timer() as t:
            result = sweep(now=moment)
        total += t.seconds
        bench.report(
            f"sweep at the {label} edge: {result.periods:,} periods, {result.alerts:,} alerts, "
            f"{result.notifications:,} notifications, {result.deliveries:,} deliveries",
            t.seconds,
            "s",
            floor=floor,
            target=5.0,
        )
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    bench.report("the three edges in all", total, "s", target=15.0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE consecutive_misses = 1), count(*) FROM monitoring_monitoringperiod"
        )
        missed, periods = cursor.fetchone()
    bench.note(f"check: {missed:,} of {periods:,} periods count one miss")
    idle = min(_timed_call(bench, lambda: sweep(now=edges[-1][1])) for _ in range(5))
    bench.report("sweep with nothing due", idle * 1000, "ms", target=50)

    # The lab results feed is part of the same target list (docs/labs.md).
    from bench import monitoring_lab_results

    monitoring_lab_results.run(bench)


def _step_profile(bench, moment) -> str:
    from django.db import transaction

    from monitoring import sweep as checkin_sweep
    from tasks.notify import delivery_inserts

    ctes, count, params = delivery_inserts("notified")
    sql = checkin_sweep._checkin_sql(ctes, count)
    params = {**checkin_sweep._clock_params(moment), **params, "limit": checkin_sweep.DEFAULT_LIMIT}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(checkin_sweep._STEP_WRITES_CLOCK_SQL, ["on"])
        plan = bench.explain(sql, params)
        transaction.set_rollback(True)
    keep = ("CTE ", "Insert on", "Update on", "LockRows", "Trigger", "Execution Time", "Seq Scan")
    return "\n".join(line for line in plan.splitlines() if any(k in line for k in keep))


def _timed_call(bench, fn) -> float:
    with bench.timer() as t:
        fn()
    return t.seconds
