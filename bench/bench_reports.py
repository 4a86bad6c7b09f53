"""Reports, statistics and the dashboard (issue 7) over 1,000,000 tasks (× scale) across Hainan's villages.

1. Generate the tasks with set SQL (generate_series), in chunks: the rollup triggers run on every chunk,
   so the insert rate includes their cost; then check the rollups equal a live count.
2. Under gunicorn (2 workers, --no-control-socket) with 32 concurrent clients from a bounded load
   generator on loopback (threads with http.client, each run bounded in time):
   the floor (a bare Django JSON view), the dashboard data endpoint of a city duty officer, and the
   live COUNT ... GROUP BY county floor. Reported: req/s, p95, p99, ratio to the floor.
3. Province-level statistics queries (by city, county, village; SLA over a day), in process.
4. The chain of transmission of a case with 2,000 tasks.

gunicorn serves `bench.bench_reports:application`: the project's WSGI app with this module as URLconf
(the project's routes plus /bench/bare/ and /bench/live-county/).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
import time
from datetime import timedelta

from bench.harness import free_port, start_gunicorn

CITY = "4601"  # 海口市: the dashboard's duty officer
CLIENTS = 32
DURATION = float(os.environ.get("BENCH_LOAD_SECONDS", "10"))

# ---- the WSGI app gunicorn serves (imported in the gunicorn workers only) ------------------------------

if os.environ.get("BENCH_REPORTS_WSGI") == "1":
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection as _connection
    from django.http import JsonResponse
    from django.urls import include, path

    def bare(request):
        return JsonResponse({"ok": True})

    def bare_auth(request):
        # The floor of an authenticated request: the same session, user and second-factor lookups as
        # every logged-in API call, and nothing else.
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "login"}, status=403)
        return JsonResponse({"user": request.user.pk})

    def live_county(request):
        with _connection.cursor() as cursor:
            cursor.execute("SELECT left(division_id, 6), count(*) FROM tasks_tracingtask GROUP BY 1")
            return JsonResponse({"counties": dict(cursor.fetchall())})

    urlpatterns = [
        path("bench/bare/", bare),
        path("bench/bare-auth/", bare_auth),
        path("bench/live-county/", live_county),
        path("", include("tracing_center.urls")),
    ]
    settings.ROOT_URLCONF = __name__
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()


# ---- data ---------------------------------------------------------------------------------------------


def _generate(bench, n: int) -> None:
    """n tasks across every village of Hainan, 144 batches over the last 24 h, mostly finished; the active
    ones with running clocks, some at warning or breached."""
    chunk = 100_000
    with bench.connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(code ORDER BY code) FROM tasks_division WHERE level = 'village'")
        villages = cursor.fetchone()[0]
        cursor.execute("""
            INSERT INTO tasks_intakebatch (started_at, finished_at, status, leads, new_tasks, merged, unresolved, dispatched, error)
            SELECT now() - make_interval(mins => 10 * g), now() - make_interval(mins => 10 * g) + interval '20 seconds',
                   'finished', 0, 0, 0, 0, 0, ''
            FROM generate_series(143, 0, -1) AS g RETURNING id""")
        batches = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT coalesce(max(id), 0) FROM tasks_person")
        base = cursor.fetchone()[0]
        done = 0
        with bench.timer() as timer:
            while done < n:
                size = min(chunk, n - done)
                cursor.execute(
                    """
                    INSERT INTO tasks_person (person_key, id_number, id_number_hash, name, phone, phone_hash, created_at)
                    SELECT 'bench:' || g, '', '', '', '', '', now() FROM generate_series(%s, %s) AS g""",
                    [base + done + 1, base + done + size],
                )
                cursor.execute(
                    """
                    WITH p AS (
                        SELECT id, row_number() OVER (ORDER BY id) AS k FROM tasks_person
                        WHERE person_key LIKE 'bench:%%' AND id > %s ORDER BY id LIMIT %s
                    ), r AS (
                        SELECT p.id AS person_id, p.k,
                               (%s::text[])[1 + (hashint4(p.k::int) & 2147483647) %% array_length(%s::text[], 1)] AS division,
                               (%s::bigint[])[1 + (p.k %% 144)] AS batch_id,
                               1 + (p.k %% 6) AS priority,
                               (hashint4(p.k::int + 7) & 1023) AS roll
                        FROM p
                    ), b AS (SELECT r.*, ib.started_at AS t0 FROM r JOIN tasks_intakebatch ib ON ib.id = r.batch_id)
                    INSERT INTO tasks_tracingtask (person_id, status, priority, division_id, unresolved_reason, address, batch_id,
                        generation, created_at, updated_at, dispatch_due, dispatched_at, radius_due, radius_limited_at, trace_due,
                        traced_at, approved_at, clock_alerts, version, legal_hold, legal_hold_reason)
                    SELECT person_id,
                           CASE WHEN roll < 850 THEN 'closed' WHEN roll < 900 THEN 'approved' WHEN roll < 930 THEN 'traced'
                                WHEN roll < 960 THEN 'radius_limited' WHEN roll < 990 THEN 'dispatched' ELSE 'new' END,
                           priority, division, '', '', batch_id, 0, t0, t0,
                           t0 + interval '30 minutes',
                           CASE WHEN roll < 990 THEN t0 + make_interval(mins => 5 + roll %% 40) END,
                           CASE WHEN roll < 990 THEN t0 + make_interval(mins => 5 + roll %% 40) + interval '3 hours' END,
                           CASE WHEN roll < 960 THEN t0 + make_interval(mins => 60 + roll %% 150) END,
                           CASE WHEN roll < 990 THEN t0 + make_interval(mins => 5 + roll %% 40) + interval '10 hours' END,
                           CASE WHEN roll < 930 THEN t0 + make_interval(mins => 200 + roll %% 500) END,
                           CASE WHEN roll < 900 THEN t0 + make_interval(mins => 800 + roll %% 100) END,
                           CASE WHEN roll >= 990 AND roll %% 3 = 0 THEN 3 WHEN roll >= 990 AND roll %% 3 = 1 THEN 1 ELSE 0 END,
                           1, false, ''
                    FROM b""",
                    [base + done, size, villages, villages, batches],
                )
                done += size
        bench.report(
            f"generate {n:,} tasks (set SQL, rollup triggers on)",
            n / timer.seconds,
            "rows/s",
            better="higher",
        )


def _chain(bench, size: int = 2000) -> int:
    """A case with a binary tree of `size` - 1 tasks its contacts opened."""
    with bench.connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, batch_id, division_id FROM tasks_tracingtask WHERE division_id LIKE '4601%%' ORDER BY id LIMIT 1"
        )
        root, batch, division = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO tasks_person (person_key, id_number, id_number_hash, name, phone, phone_hash, created_at)
            SELECT 'chain:' || g, '', '', '', '', '', now() FROM generate_series(1, %s) AS g""",
            [size - 1],
        )
        cursor.execute(
            """
            INSERT INTO tasks_tracingtask (person_id, status, priority, division_id, unresolved_reason, address, batch_id, generation,
                created_at, updated_at, clock_alerts, version, legal_hold, legal_hold_reason)
            SELECT id, 'dispatched', 1, %s, '', '', %s, 1, now(), now(), 0, 1, false, ''
            FROM tasks_person WHERE person_key LIKE 'chain:%%' ORDER BY id RETURNING id""",
            [division, batch],
        )
        ids = [row[0] for row in cursor.fetchall()]
        nodes = [root, *ids]
        pairs = [(nodes[i], nodes[(i - 1) // 2]) for i in range(1, len(nodes))]
        cursor.execute(
            """
            UPDATE tasks_tracingtask t SET source_task_id = v.parent, generation = 1
            FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, parent) WHERE t.id = v.id""",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
    return root


def _users():
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY

    from tasks.models import Role, User
    from tasks.twofactor import ensure_confirmed_device

    officer = User.objects.create_user(
        username="bench-reports-duty",
        password="Bench-Duty-Password-42",
        role=Role.DUTY_OFFICER,
        division_id=CITY,
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


# ---- load ---------------------------------------------------------------------------------------------


def _start_gunicorn(port: int, **extra: str):
    """The project under gunicorn with this module as its URLconf (the bare view beside the real ones)."""
    return start_gunicorn(
        port,
        app="bench.bench_reports:application",
        ready_path="/bench/bare/",
        env={**extra, "BENCH_REPORTS_WSGI": "1"},
    )


def _load(
    port: int, path: str, cookie: str | None, duration: float = DURATION, clients: int = CLIENTS
) -> dict:
    """`clients` threads, each sending GET `path` in a loop on its own connection until `duration` is
    over (bounded: no request is started after the deadline; each has a 30 s timeout)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    headers = {"Accept": "application/json", "X-Idle-Passive": "1"}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    start = time.perf_counter()
    deadline = start + duration

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                failed += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
        )

    return {
        "rps": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "n": len(latencies),
        "errors": errors[0],
    }


# ---- run ----------------------------------------------------------------------------------------------


def run(bench):
    from django.db import connection

    from reports import stats
    from reports.reading import chain
    from reports.rollups import rollup_differences

    n = bench.scaled(1_000_000)
    _generate(bench, n)
    root = _chain(bench)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with bench.timer() as t:
        diffs = rollup_differences()
    bench.report(
        f"rollups equal a live count ({'yes' if not any(diffs.values()) else 'NO'}): check time",
        t.seconds,
        "s",
    )
    officer, cookie = _users()

    # in-process: statistics and the chain
    from django.contrib.auth.models import AnonymousUser  # noqa: F401

    commander = type(officer).objects.create_user(
        username="bench-cmd",
        password="Bench-Command-Password-42",
        role="commander",
        division_id="46",
        full_name="指挥基准",
    )
    from django.utils import timezone

    now = timezone.now()
    for level in ("city", "county", "village"):
        q = stats.Query(
            root="46", level=level, statuses=[], priorities=[], since=now - timedelta(days=1), until=now
        )
        stats.by_division(q)  # warm
        with bench.timer() as t:
            table = stats.by_division(q)
        bench.report(
            f"province statistics by {level} ({len(table.rows)} rows, rollup)",
            t.seconds * 1000,
            "ms",
            target=1000,
        )
    q = stats.Query(
        root="46", level="city", statuses=[], priorities=[], since=now - timedelta(days=1), until=now
    )
    with bench.timer() as t:
        stats.by_time(q, "hour")
    bench.report("province hourly trend, 24 h (rollup)", t.seconds * 1000, "ms", target=1000)
    with bench.timer() as t:
        stats.sla(q)
    bench.report("province SLA + medians, 24 h window (live, index)", t.seconds * 1000, "ms", target=1000)
    stats.dashboard(officer, CITY)  # warm (URL resolver, imports)
    with bench.timer() as t:
        stats.dashboard(officer, CITY)
    bench.report("dashboard data of a city, computed in process (no cache)", t.seconds * 1000, "ms")
    with bench.timer() as t:
        graph = chain(commander, root)
    bench.report(
        f"cluster graph, {len(graph['nodes'])} nodes (one recursive CTE)", t.seconds * 1000, "ms", target=1000
    )

    # under gunicorn
    connection.close()
    port = free_port()
    proc = _start_gunicorn(port)
    try:
        _load(port, "/bench/bare/", None, duration=2)  # warm up
        floor = _load(port, "/bench/bare/", None)
        bench.report(f"bare JSON view, {CLIENTS} clients: req/s", floor["rps"], "req/s", better="higher")
        bench.report("bare JSON view p95", floor["p95"], "ms")
        bench.report("bare JSON view p99", floor["p99"], "ms")
        auth = _load(port, "/bench/bare-auth/", cookie)
        bench.report(
            "bare JSON view, logged in (session + user + 2FA lookups): req/s",
            auth["rps"],
            "req/s",
            floor=floor["rps"],
            better="higher",
        )
        bench.report("bare JSON view, logged in p95", auth["p95"], "ms")
        _load(port, "/api/v1/stats/dashboard/", cookie, duration=2)
        dash = _load(port, "/api/v1/stats/dashboard/", cookie)
        bench.note(
            f"dashboard: {dash['n']} answers, {dash['errors']} errors, p50 {dash['p50']:.1f} ms; "
            f"ratio to the logged-in bare view {dash['rps'] / auth['rps']:.2f}×"
        )
        bench.report(
            "dashboard data endpoint: req/s (≥ 10 % of the bare view)",
            dash["rps"],
            "req/s",
            floor=floor["rps"],
            target=0.10 * floor["rps"],
            better="higher",
        )
        bench.report("dashboard data endpoint p95", dash["p95"], "ms", target=100)
        bench.report("dashboard data endpoint p99", dash["p99"], "ms")
        live = _load(port, "/bench/live-county/", None, duration=DURATION)
        bench.report(
            "live COUNT GROUP BY county (floor of a rollup-less design): req/s",
            live["rps"],
            "req/s",
            better="higher",
        )
        bench.report("live COUNT GROUP BY county p99", live["p99"], "ms")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    # The same endpoint computing every answer (DASHBOARD_CACHE_SECONDS=0): the rollups alone.
    port = free_port()
    proc = _start_gunicorn(port, DASHBOARD_CACHE_SECONDS="0")
    try:
        _load(port, "/api/v1/stats/dashboard/", cookie, duration=2)
        raw = _load(port, "/api/v1/stats/dashboard/", cookie)
        bench.report(
            "dashboard data endpoint, no cache: req/s",
            raw["rps"],
            "req/s",
            floor=floor["rps"],
            better="higher",
        )
        bench.report("dashboard data endpoint, no cache p95", raw["p95"], "ms")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
