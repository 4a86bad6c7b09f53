"""The workload view (docs/duty.md, "Workload") of a county with 100,000 open tasks (× scale).

1. Generate, with set SQL: three grid workers per village of 海口市秀英区 (460105), members of their
   village's sub-unit and their township's team; 100,000 open tasks across the county's villages, each
   assigned to one of its village's workers (skewed, so there is something to rebalance), with running
   clocks (some at warning, some breached); 20,000 tasks submitted in the last 7 days (the medians).
2. In process: the workload of the county computed once (no cache).
3. Under gunicorn (2 workers) with 16 concurrent clients over real HTTP (the load generator of
   bench/bench_reports.py): the floor (the bare logged-in JSON view of the same server, same run), then
   `GET /api/v1/workload/?division=460105` as served (WORKLOAD_CACHE_SECONDS default), then computed on
   every request (WORKLOAD_CACHE_SECONDS=0). Target: p95 < 200 ms as served.
"""

from __future__ import annotations

from bench.bench_reports import _load, _start_gunicorn
from bench.harness import free_port

COUNTY = "460105"
CLIENTS = 16


def _generate(bench, n: int) -> None:
    with bench.connection.cursor() as cursor, bench.timer() as timer:
        cursor.execute(
            """
            INSERT INTO tasks_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                    is_active, date_joined, full_name, role, division_id, phone)
            SELECT '!', false, 'bench-w-' || d.code || '-' || g, '', '', '', false, true, now(),
                   '网格员' || g, 'field_staff', d.code, ''
            FROM tasks_division d CROSS JOIN generate_series(1, 3) AS g
            WHERE d.level = 'village' AND d.code LIKE %s
            """,
            [COUNTY + "%"],
        )
        cursor.execute(
            """
            INSERT INTO tasks_unitmembership (unit_id, user_id, joined_at)
            SELECT un.id, u.id, now() FROM tasks_user u
            JOIN tasks_unit un ON (un.kind = 'subunit' AND un.division_id = u.division_id)
                               OR (un.kind = 'team' AND un.division_id = left(u.division_id, 9))
            WHERE u.username LIKE 'bench-w-%%'
            """
        )
        cursor.execute(
            "INSERT INTO tasks_intakebatch (started_at, finished_at, status, leads, new_tasks, merged, unresolved,"
            " dispatched, error) VALUES (now() - interval '2 hours', now(), 'finished', 0, 0, 0, 0, 0, '')"
            " RETURNING id"
        )
        batch = cursor.fetchone()[0]
        total = n + n // 5
        cursor.execute("SELECT coalesce(max(id), 0) FROM tasks_person")
        base = cursor.fetchone()[0]
        cursor.execute(
            """INSERT INTO tasks_person (person_key, id_number, id_number_hash, name, phone, phone_hash, created_at)
               SELECT 'bench-w:' || g, '', '', '', '', '', now() FROM generate_series(%s, %s) AS g""",
            [base + 1, base + total],
        )
        cursor.execute(
            """
            WITH workers AS MATERIALIZED (
                SELECT u.id, u.division_id, su.id AS subunit_id, tm.id AS team_id,
                       row_number() OVER (PARTITION BY u.division_id ORDER BY u.id) AS slot,
                       dense_rank() OVER (ORDER BY u.division_id) AS v
                FROM tasks_user u
                JOIN tasks_unit su ON su.kind = 'subunit' AND su.division_id = u.division_id
                JOIN tasks_unit tm ON tm.kind = 'team' AND tm.division_id = left(u.division_id, 9)
                WHERE u.username LIKE 'bench-w-%%'
            ),
            villages AS (SELECT count(DISTINCT division_id) AS n FROM workers),
            p AS MATERIALIZED (
                SELECT id, row_number() OVER (ORDER BY id) AS k FROM tasks_person
                WHERE person_key LIKE 'bench-w:%%' AND id > %(base)s
            ),
            r AS MATERIALIZED (
                SELECT p.id AS person_id, p.k, 1 + (hashint4(p.k::int) & 2147483647) %% villages.n AS v,
                       -- slot 1 gets half the village's tasks, slots 2 and 3 a quarter each
                       CASE WHEN (hashint4(p.k::int + 3) & 3) < 2 THEN 1 WHEN (hashint4(p.k::int + 3) & 3) = 2 THEN 2 ELSE 3 END AS slot,
                       (hashint4(p.k::int + 7) & 1023) AS roll, p.k > %(n)s AS done
                FROM p, villages
            )
            INSERT INTO tasks_tracingtask (person_id, status, kind, priority, division_id, unresolved_reason, address,
                batch_id, generation, created_at, updated_at, dispatch_due, dispatched_at, radius_due, radius_limited_at,
                trace_due, traced_at, submitted_at, assignee_id, subunit_id, team_id, clock_alerts, version, legal_hold,
                legal_hold_reason)
            SELECT r.person_id,
                   CASE WHEN r.done THEN 'approved' WHEN r.roll < 400 THEN 'received' WHEN r.roll < 700 THEN 'radius_limited'
                        WHEN r.roll < 900 THEN 'traced' ELSE 'dispatched' END,
                   CASE WHEN r.roll %% 5 = 0 THEN 'verification' ELSE 'investigation' END,
                   1 + r.k %% 6, w.division_id, '', '', %(batch)s, 0, now() - interval '12 hours', now(),
                   now() - interval '11 hours',
                   now() - make_interval(mins => 20 + r.roll %% 600),
                   now() - make_interval(mins => 20 + r.roll %% 600) + interval '3 hours',
                   CASE WHEN r.roll >= 400 OR r.done THEN now() - make_interval(mins => 10) END,
                   now() - make_interval(mins => 20 + r.roll %% 600) + interval '10 hours',
                   CASE WHEN (r.roll >= 700 AND r.roll < 900) OR r.done THEN now() - make_interval(mins => 5) END,
                   CASE WHEN r.done THEN now() - make_interval(mins => 20 + r.roll %% 600) + make_interval(mins => 60 + r.roll %% 300) END,
                   w.id, w.subunit_id, w.team_id, 0, 1, false, ''
            FROM r
            JOIN workers w ON w.v = r.v AND w.slot = r.slot
            """,
            {"base": base, "n": n, "batch": batch},
        )
        cursor.execute("ANALYZE")
    bench.report(
        f"generate {n:,} open + {n // 5:,} submitted tasks and the workers (set SQL)", timer.seconds, "s"
    )


def _officer():
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY

    from tasks.models import Role, User
    from tasks.twofactor import ensure_confirmed_device

    officer = User.objects.create_user(
        username="bench-workload-duty",
        password="Bench-Duty-Password-42",
        role=Role.DUTY_OFFICER,
        division_id=COUNTY,
        full_name="值班员基准",
    )
    device = ensure_confirmed_device(officer)
    session = SessionStore()
    session[SESSION_KEY] = str(officer.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = officer.get_session_auth_hash()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    return officer, session.session_key


def run(bench):
    from duty.services.workload import workload

    n = bench.scaled(100_000)
    _generate(bench, n)
    with bench.connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tasks_tracingtask WHERE division_id LIKE %s AND status IN "
            "('dispatched','received','radius_limited','traced')",
            [COUNTY + "%"],
        )
        open_tasks = cursor.fetchone()[0]
    bench.note(f"open tasks in {COUNTY}: {open_tasks:,}")
    _officer_user, cookie = _officer()

    workload(COUNTY)  # warm
    with bench.timer() as t:
        data = workload(COUNTY)
    bench.report(
        f"workload of the county computed in process ({len(data['members'])} members, "
        f"{len(data['teams'])} teams, {len(data['suggestions'])} suggestions)",
        t.seconds * 1000,
        "ms",
    )

    path = f"/api/v1/workload/?division={COUNTY}"
    port = free_port()
    proc = _start_gunicorn(port)
    try:
        _load(port, "/bench/bare-auth/", cookie, duration=2, clients=CLIENTS)  # warm up
        floor = _load(port, "/bench/bare-auth/", cookie, clients=CLIENTS)
        bench.report(
            f"bare logged-in JSON view, {CLIENTS} clients: req/s", floor["rps"], "req/s", better="higher"
        )
        bench.report("bare logged-in JSON view p95", floor["p95"], "ms")
        _load(port, path, cookie, duration=2, clients=CLIENTS)
        served = _load(port, path, cookie, clients=CLIENTS)
        bench.note(
            f"workload API: {served['n']} answers, {served['errors']} errors, p50 {served['p50']:.1f} ms, "
            f"p99 {served['p99']:.1f} ms; ratio to the bare view {served['rps'] / floor['rps']:.2f}×"
        )
        bench.report(
            f"workload API as served, {CLIENTS} clients: req/s", served["rps"], "req/s", better="higher"
        )
        bench.report("workload API as served p95", served["p95"], "ms", target=200)
    finally:
        proc.terminate()
        proc.wait(30)

    port = free_port()
    proc = _start_gunicorn(port, WORKLOAD_CACHE_SECONDS="0")
    try:
        _load(port, path, cookie, duration=2, clients=CLIENTS)
        live = _load(port, path, cookie, clients=CLIENTS)
        bench.note(
            f"computed on every request: {live['n']} answers, {live['errors']} errors, p99 {live['p99']:.1f} ms"
        )
        bench.report(
            f"workload API computed every request, {CLIENTS} clients: req/s",
            live["rps"],
            "req/s",
            better="higher",
        )
        bench.report("workload API computed every request p95", live["p95"], "ms")
    finally:
        proc.terminate()
        proc.wait(30)
