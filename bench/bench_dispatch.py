"""Dispatch and the deadline sweep (issue 4).

Figures (targets from the issue, PostgreSQL, 2 cores):
* dispatch of 100,000 new tasks (follow the person, least-load assignment, history rows): < 5 s;
  floor: one bare UPDATE of the same rows (status and clocks) in the same run;
* one sweep over 1,000,000 open tasks of which 1 % are newly due: < 1 s; and with nothing due: < 50 ms;
  floors: a bare UPDATE of `next_alert_at` of the swept tasks (the write the sweep cannot avoid), the
  bare due query with and without the partial index `task_next_alert_due`, and claiming 1,000 due rows
  with SKIP LOCKED.
The EXPLAIN of the due query shows the partial index in use.

Tasks, persons and staff are generated with set SQL (generate_series, INSERT … SELECT), never ORM loops.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

DUE_SQL = "SELECT id FROM tasks_tracingtask WHERE next_alert_at IS NOT NULL AND next_alert_at <= %s"


def _defaults_for(model, given: set[str]) -> dict[str, object]:
    """Values for the NOT NULL columns (added by other features) the generator does not name and the
    database has no default for: the model field's default."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
            "AND column_default IS NULL",
            [table],
        )
        needed = {row[0] for row in cursor.fetchall()} - given - {"id"}
    values = {}
    for field in model._meta.concrete_fields:
        if field.column in needed:
            values[field.column] = field.get_default()
    return values


def _insert_select(model, columns: dict[str, str], from_sql: str, params: dict, *, with_sql: str = "") -> int:
    extra = _defaults_for(model, set(columns))
    cols = {**columns, **{c: f"%(d_{c})s" for c in extra}}
    params = {**params, **{f"d_{c}": v for c, v in extra.items()}}
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(cols)}) {with_sql} SELECT {', '.join(cols.values())} {from_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _timed_sql(bench, sql: str, params=None, *, rollback: bool = False, before: str | None = None) -> float:
    with transaction.atomic():
        with connection.cursor() as cursor:
            if before:
                cursor.execute(before)
            with bench.timer() as t:
                cursor.execute(sql, params)
                if cursor.description:
                    cursor.fetchall()
        if rollback:
            transaction.set_rollback(True)
    return t.seconds


def run(bench) -> None:
    from tasks.dispatch import dispatch_new_tasks
    from tasks.models import IntakeBatch, Person, TracingTask, UnitMembership, User
    from tasks.sweep import sweep

    n_new = bench.scaled(100_000, 100)
    n_total = bench.scaled(1_000_000, 1000)
    n_background = n_total - n_new
    n_due = max(1, n_total // 100)
    t0 = timezone.now().replace(microsecond=0)
    dispatch_at = t0 + timedelta(minutes=1)
    sweep_at = dispatch_at  # the 100,000 just dispatched are not due; 1 % of the others are

    # --- staff: two grid workers per village sub-unit, a leader per sub-unit and team -------------
    with bench.timer() as t:
        _insert_select(
            User,
            {
                "password": "'!'",
                "is_superuser": "false",
                "username": "'bench_' || u.id || '_' || g",
                "first_name": "''",
                "last_name": "''",
                "email": "''",
                "is_staff": "false",
                "is_active": "true",
                "date_joined": "%(t0)s",
                "full_name": "''",
                "role": "CASE WHEN g = 0 THEN 'team_leader' ELSE 'field_staff' END",
                "division_id": "u.division_id",
                "phone": "CASE WHEN g = 0 THEN '139' || lpad(u.id::text, 8, '0') ELSE '' END",
            },
            "FROM tasks_unit u CROSS JOIN generate_series(0, 2) AS g WHERE u.kind IN ('subunit', 'team') "
            "AND (u.kind = 'subunit' OR g = 0)",
            {"t0": t0},
        )
        _insert_select(
            UnitMembership,
            {"unit_id": "u.id", "user_id": "usr.id", "joined_at": "%(t0)s"},
            "FROM tasks_unit u JOIN tasks_user usr ON usr.division_id = u.division_id AND usr.role = 'field_staff' "
            "AND usr.username LIKE 'bench\\_%%' WHERE u.kind = 'subunit'",
            {"t0": t0},
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tasks_unit u SET leader_id = usr.id FROM tasks_user usr WHERE usr.division_id = u.division_id "
                "AND usr.role = 'team_leader' AND usr.username LIKE 'bench\\_%%'",
                [],
            )
            cursor.execute("SELECT count(*) FROM tasks_unit WHERE kind = 'subunit'")
            villages = cursor.fetchone()[0]
    bench.report(f"setup: staff for {villages:,} village sub-units", t.seconds, "s")

    # --- persons and the 100,000 new tasks of one batch ------------------------------------------
    batch = IntakeBatch.objects.create(started_at=t0, status=IntakeBatch.Status.FINISHED, finished_at=t0)
    with bench.timer() as t:
        _insert_select(
            Person,
            {
                "person_key": "'bench:' || g",
                "id_number": "''",
                "id_number_hash": "''",
                "name": "''",
                "phone": "''",
                "phone_hash": "''",
                "created_at": "%(t0)s",
            },
            "FROM generate_series(1, %(n)s) AS g",
            {"t0": t0, "n": n_total},
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM tasks_person WHERE person_key LIKE 'bench:%%'", [])
            first_person = cursor.fetchone()[0]
        village_cte = (
            "WITH v AS (SELECT division_id, row_number() OVER (ORDER BY division_id) - 1 AS i FROM tasks_unit "
            "WHERE kind = 'subunit'), nv AS (SELECT count(*) AS c FROM v) "
        )
        # 1 % of the new tasks have no village (they stay in the county desk's queue).
        _insert_select(
            TracingTask,
            {
                "person_id": "%(p0)s + g - 1",
                "status": "'new'",
                "priority": "1 + g %% 6",
                "division_id": "CASE WHEN g %% 100 = 0 THEN left(v.division_id, 6) ELSE v.division_id END",
                "unresolved_reason": "''",
                "address": "''",
                "batch_id": "%(batch)s",
                "generation": "0",
                "created_at": "%(t0)s",
                "updated_at": "%(t0)s",
                "dispatch_due": "%(t0)s + interval '30 minutes'",
                "version": "1",
            },
            "FROM generate_series(1, %(n)s) AS g, nv JOIN v ON TRUE WHERE v.i = g %% nv.c",
            {"p0": first_person, "n": n_new, "batch": batch.pk, "t0": t0},
            with_sql=village_cte,
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_tracingtask")
    bench.report(f"setup: {n_total:,} persons and {n_new:,} new tasks", t.seconds, "s")

    # Floor: a bare UPDATE of the same rows (status and clocks), rolled back.
    floor = _timed_sql(
        bench,
        "UPDATE tasks_tracingtask SET status = 'dispatched', dispatched_at = %(at)s, radius_due = %(at)s + interval '3 hours', "
        "trace_due = %(at)s + interval '10 hours', next_alert_at = %(at)s + interval '144 minutes' "
        "WHERE batch_id = %(batch)s AND status = 'new'",
        {"at": dispatch_at, "batch": batch.pk},
        rollback=True,
    )
    bench.report(f"floor: bare UPDATE of {n_new:,} tasks", floor, "s")
    # The rolled-back floor left a dead version of every row and an index entry for it in every index;
    # a batch's new tasks never meet that garbage in production. Vacuum it away so that the dispatch
    # starts from the state the floor started from.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM tasks_tracingtask")
    with bench.timer() as t:
        dispatched = dispatch_new_tasks(batch_id=batch.pk, now=dispatch_at)
    bench.report(
        f"dispatch of {n_new:,} new tasks ({dispatched:,} dispatched, rest queued)",
        t.seconds,
        "s",
        floor=floor,
        target=5.0,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(spread) FROM (SELECT subunit_id, max(c) - min(c) AS spread FROM (SELECT subunit_id, assignee_id, "
            "count(*) AS c FROM tasks_tracingtask WHERE batch_id = %s AND assignee_id IS NOT NULL "
            "GROUP BY subunit_id, assignee_id) a GROUP BY subunit_id) s",
            [batch.pk],
        )
        spread = cursor.fetchone()[0]
    bench.note(f"least-load check: largest difference of assigned counts within a sub-unit: {spread}")

    # --- the other 900,000 open tasks, dispatched earlier; 1 % newly due at sweep time -----------
    with bench.timer() as t:
        # Due ones (1 % of all open tasks): radius warning (dispatch + 144 min) 1 to 60 s before the sweep.
        # The others: warning 4 to 144 minutes after it (the new batch's at 144 minutes). Dispatch clocks have stopped.
        dispatched_expr = (
            "CASE WHEN g %% %(every)s = 0 THEN %(s)s - interval '144 minutes' - (1 + g %% 60) * interval '1 second' "
            "ELSE %(s)s - (g %% 8400) * interval '1 second' END"
        )
        _insert_select(
            TracingTask,
            {
                "person_id": "%(p0)s + %(n_new)s + g - 1",
                "status": "CASE WHEN g %% 3 = 0 THEN 'received' ELSE 'dispatched' END",
                "priority": "1 + g %% 6",
                "division_id": "v.division_id",
                "unresolved_reason": "''",
                "address": "''",
                "batch_id": "%(batch)s",
                "generation": "0",
                "created_at": "%(s)s - interval '1 day'",
                "updated_at": "%(s)s - interval '1 day'",
                "version": "2",
                "subunit_id": "su.id",
                "assignee_id": "m.uid",
                "dispatch_due": f"({dispatched_expr}) + interval '20 minutes'",
                "dispatched_at": dispatched_expr,
                "radius_due": f"({dispatched_expr}) + interval '3 hours'",
                "trace_due": f"({dispatched_expr}) + interval '10 hours'",
                "next_alert_at": f"({dispatched_expr}) + interval '144 minutes'",
            },
            "FROM generate_series(1, %(n)s) AS g, nv JOIN v ON TRUE "
            "JOIN tasks_unit su ON su.division_id = v.division_id AND su.kind = 'subunit' "
            "LEFT JOIN (SELECT unit_id, min(user_id) AS uid FROM tasks_unitmembership GROUP BY unit_id) m ON m.unit_id = su.id "
            "WHERE v.i = g %% nv.c",
            {
                "p0": first_person,
                "n_new": n_new,
                "n": n_background,
                "batch": batch.pk,
                "s": sweep_at,
                "every": max(1, n_background // n_due),
            },
            with_sql=village_cte,
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tasks_tracingtask")
            cursor.execute("SELECT count(*) FROM tasks_tracingtask WHERE next_alert_at IS NOT NULL")
            running = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM (" + DUE_SQL + ") d", [sweep_at])
            due_now = cursor.fetchone()[0]
    bench.report(
        f"setup: {n_background:,} more open tasks ({running:,} with a running clock, {due_now:,} due)",
        t.seconds,
        "s",
    )
    _check_next_alert(bench)
    # The setup wrote about a gigabyte of WAL, so a checkpoint would otherwise be writing its pages back
    # during the floors and the sweep (as the intake bench, which checkpoints before its batch). Untimed.
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")

    # --- floors -----------------------------------------------------------------------------------
    with_index = min(_timed_sql(bench, DUE_SQL, [sweep_at]) for _ in range(3))
    bench.report(f"floor: bare due query, partial index ({due_now:,} due)", with_index * 1000, "ms")
    without_index = min(
        _timed_sql(bench, DUE_SQL, [sweep_at], rollback=True, before="DROP INDEX task_next_alert_due")
        for _ in range(2)
    )
    bench.report("floor: bare due query, without the partial index", without_index * 1000, "ms")
    claim_sql = DUE_SQL + " ORDER BY next_alert_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
    claim = min(_timed_sql(bench, claim_sql, [sweep_at], rollback=True) for _ in range(3))
    bench.report("floor: claim 1,000 due rows with SKIP LOCKED", claim * 1000, "ms")
    bench.note("EXPLAIN of the sweep's due query:")
    bench.note(
        bench.explain(
            DUE_SQL.replace("%s", f"'{sweep_at.isoformat()}'") + " ORDER BY next_alert_at LIMIT 5000"
        )
    )

    # --- the sweep --------------------------------------------------------------------------------
    with bench.timer() as t:
        result = sweep(now=sweep_at)
    swept = t.seconds
    # Floor: the one write the sweep cannot avoid, a bare UPDATE of `next_alert_at` of the same tasks (not
    # HOT: `next_alert_at` is indexed, so every index of the task table gets a new entry), rolled back.
    # Measured after the sweep, on pages it has just touched: a lower bound.
    update_floor = _timed_sql(
        bench,
        "UPDATE tasks_tracingtask SET next_alert_at = next_alert_at + interval '1 second' "
        "WHERE id IN (SELECT task_id FROM tasks_escalation WHERE created_at = %s)",
        [sweep_at],
        rollback=True,
    )
    bench.report(
        f"floor: bare UPDATE of next_alert_at of the {result.tasks:,} swept tasks", update_floor, "s"
    )
    bench.report(
        f"sweep over {running:,} open tasks, {result.tasks:,} newly due ({result.escalations:,} escalations, "
        f"{result.notifications:,} notifications, {result.deliveries:,} deliveries)",
        swept,
        "s",
        floor=update_floor,
        target=1.0,
    )
    # The idle sweep first: the index still holds an entry for the old version of each swept task. The
    # sweep's ordered index scans mark them dead for every later scan (in service, the next minute's
    # sweep does); the floor's bitmap scan would not, and would visit the 10,000 dead rows each time.
    idle = min(_timed_call(bench, lambda: sweep(now=sweep_at)) for _ in range(5))
    nothing_due_floor = min(_timed_sql(bench, DUE_SQL, [sweep_at]) for _ in range(3))
    bench.report("floor: bare due query with nothing due", nothing_due_floor * 1000, "ms")
    bench.report("sweep with nothing due", idle * 1000, "ms", floor=nothing_due_floor * 1000, target=50)


def _timed_call(bench, fn) -> float:
    with bench.timer() as t:
        fn()
    return t.seconds


def _check_next_alert(bench) -> None:
    """The generated next_alert_at must be what the application computes (tasks/clocks.py)."""
    from tasks.clocks import clock_windows, next_alert_sql

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT t.next_alert_at, {next_alert_sql()} AS expected FROM tasks_tracingtask t "
            "WHERE t.id %% 997 = 0) s WHERE next_alert_at IS DISTINCT FROM expected",
            clock_windows(),
        )
        wrong = cursor.fetchone()[0]
    bench.note(f"sample check of generated next_alert_at against tasks/clocks.py: {wrong} mismatches")
