"""Unified intake (issue 3): COPY and hand-written SQL floors, import_leads of a 1,000,000-row CSV,
run_intake on the resulting ~1,000,000 pending leads, POST /api/v1/leads/ with 10,000 leads.

Data (at scale 1.0): 1,000,000 CSV rows for 800,000 persons — 20 % of the rows are a second lead for a
person from another source (same resident ID, or same phone + name), 2 % are invalid (wrong ID check
digit, rejected at intake), 5 % give no division code, only an address naming county, township and
village. Divisions are the real Hainan villages.

Run: `python -m bench.run intake [--scale 0.1]` (scripts/bench.py sets up the environment).
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from django.core.management import call_command
from django.db import DatabaseError
from django.utils import timezone

SOURCES = ["big_data", "red_code", "yellow_code", "community", "hotline", "returnee", "manual"]
HEADER = "source,external_id,id_number,name,phone,division_code,address,reason,reported_at\n"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华"


def _check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def _villages(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.code, v.name, t.name, c.name FROM tasks_division v
            JOIN tasks_division t ON t.code = left(v.code, 9)
            JOIN tasks_division c ON c.code = left(v.code, 6)
            WHERE v.level = 'village' AND v.code LIKE '46%%' ORDER BY v.code
            """
        )
        return cursor.fetchall()


def write_csv(path: Path, rows: int, villages, *, seed: int = 3, prefix: str = "b") -> dict:
    """Write the benchmark CSV; return what it contains."""
    rng = random.Random(seed)
    persons = int(rows * 0.8)
    # Naive on purpose: the sources send local (Beijing) times without an offset.
    base = datetime(2024, 5, 1, 8, 0)  # noqa: DTZ001
    counts = {"rows": rows, "persons": persons, "invalid": 0, "address_only": 0, "repeat": 0}
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        lines = []
        for n in range(rows):
            if n < persons:
                person = n
                source = SOURCES[n % len(SOURCES)]
            else:  # a second lead for an earlier person, from another source
                person = rng.randrange(persons)
                source = SOURCES[(person + 1 + n % 3) % len(SOURCES)]
                counts["repeat"] += 1
            code, vname, tname, cname = villages[person % len(villages)]
            name = SURNAMES[person % 20] + GIVEN[(person // 20) % 25] + GIVEN[(person // 500) % 25]
            birth = (date(1950, 1, 1) + timedelta(days=person // 997 % 20000)).strftime("%Y%m%d")
            first17 = f"460105{birth}{person % 997:03d}"
            id_number = first17 + _check_digit(first17)
            phone = f"13{person % 1000000000:09d}"
            if person % 3 == 0:  # a third of the persons are known by phone + name only
                id_number = ""
            if n % 50 == 7:  # 2 %: a wrong check digit
                id_number = first17 + ("0" if _check_digit(first17) != "0" else "1")
                counts["invalid"] += 1
            division, address = code, ""
            if n % 20 == 11:  # 5 %: only an address
                division = ""
                address = f"海南省海口市{cname}{tname}{_short(vname)}{person % 50 + 1}号"
                counts["address_only"] += 1
            reported = (base + timedelta(seconds=n % 7200)).isoformat()
            lines.append(
                f"{source},{prefix}{n},{id_number},{name},{phone},{division},{address},,{reported}\n"
            )
            if len(lines) >= 50_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)
    return counts


def _short(name: str) -> str:
    for suffix, keep in (
        ("村民委员会", "村"),
        ("村委员会", "村"),
        ("村委会", "村"),
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", ""),
        ("居委会", ""),
    ):
        if name.endswith(suffix):
            return name[: -len(suffix)] + keep
    return name


def run(bench) -> None:
    connection = bench.connection
    rows = bench.scaled(1_000_000, minimum=10_000)
    villages = _villages(connection)
    workdir = Path(tempfile.mkdtemp(prefix="bench_intake_"))
    csv_path = workdir / "leads.csv"
    with bench.timer() as generated:
        counts = write_csv(csv_path, rows, villages)
    bench.note(
        f"{rows:,} CSV rows generated in {generated.seconds:.1f} s: {counts['persons']:,} persons, "
        f"{counts['repeat']:,} repeat leads, {counts['invalid']:,} invalid, {counts['address_only']:,} address only"
    )

    # Floor 1: a bare COPY of the same rows into an unindexed table.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE lead_copy_floor (source text, external_id text, id_number text, name text, phone text, "
            "division_code text, address text, reason text, reported_at timestamptz)"
        )
        with bench.timer() as copy_floor:
            with cursor.copy("COPY lead_copy_floor FROM STDIN (FORMAT csv, HEADER true)") as copy:
                with open(csv_path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
        cursor.execute("DROP TABLE lead_copy_floor")
    bench.report("COPY floor: lead rows per second", rows / copy_floor.seconds, "rows/s", better="higher")

    # import_leads: stream, validate, COPY in chunks.
    with bench.timer() as imported:
        call_command("import_leads", str(csv_path), "--source", "manual", verbosity=0)
    bench.report(
        f"import_leads of a {rows:,}-row CSV",
        imported.seconds,
        "s",
        floor=copy_floor.seconds,
        target=60 * rows / 1_000_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_pendinglead")
        pending = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tasks_leadrejection")
        rejected = cursor.fetchone()[0]
    bench.note(f"{pending:,} pending leads, {rejected:,} rejected rows stored")

    # Floor 2: one hand-written statement turning the pending leads into tasks (rolled back).
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(
            "CREATE TEMP TABLE task_floor (person_key text, division_id text, priority smallint, created_at timestamptz)"
        )
        with bench.timer() as sql_floor:
            cursor.execute(
                """
                INSERT INTO task_floor
                SELECT DISTINCT ON (l.person_key) l.person_key, v.code, l.priority, now()
                FROM tasks_pendinglead p JOIN tasks_lead l ON l.id = p.lead_id
                JOIN tasks_division v ON v.code = l.division_id
                ORDER BY l.person_key, l.priority
                """
            )
            floor_tasks = cursor.rowcount
        cursor.execute("ROLLBACK")
    bench.report(
        f"SQL floor: {pending:,} leads → {floor_tasks:,} tasks in one statement", sql_floor.seconds, "s"
    )

    from tasks.intake import intake_run

    # The import just wrote about a gigabyte of WAL and as many dirty pages. Left alone, the checkpoint
    # they call for starts inside the batch and charges the import's write-back, and a full-page image
    # of every page the batch touches after it, to the batch. In service, batches are ten minutes apart
    # and checkpoint_timeout is five. (CHECKPOINT needs a superuser or the pg_checkpoint role.)
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as exc:
            bench.note(f"no CHECKPOINT before the batch ({exc}); the figure includes the import's write-back")
    with bench.timer() as consolidated:
        batch = intake_run()
    bench.report(
        f"run_intake: {batch.leads:,} pending leads → {batch.new_tasks:,} tasks (dispatch included)",
        consolidated.seconds,
        "s",
        floor=sql_floor.seconds,
        target=60 * rows / 1_000_000,
    )
    bench.note(
        f"batch #{batch.id}: {batch.new_tasks:,} new tasks, {batch.merged:,} merged, {batch.unresolved:,} "
        f"without a village, {batch.dispatched:,} dispatched{'; ' + batch.error if batch.error else ''}"
    )
    bench.note(f"steps: {batch.step_times}")
    _bench_triage(bench, batch, consolidated.seconds)

    _bench_api(bench, villages)
    csv_path.unlink(missing_ok=True)
    workdir.rmdir()


def _bench_triage(bench, batch, run_seconds: float) -> None:
    """What the triage (docs/worktypes.md) adds to the batch: the rule lookup joined to every claimed
    lead and the per-person most serious kind, measured as the difference between the same read of the
    batch's leads with and without them (the batch itself does that read anyway), plus the batch's own
    escalation step. Reported against run_intake of the same run as the floor: the ratio is the share."""
    from tasks.intake import triage_values_sql

    base = """SELECT count(*), sum(x.r) FROM (
                SELECT l.person_key, {rank} AS r FROM tasks_leadlink k JOIN tasks_lead l ON l.id = k.lead_id
                {join} WHERE k.batch_id = %s GROUP BY l.person_key) x"""
    with_triage = base.format(
        rank="max(coalesce(tr.kind_rank, 3))",
        join=f"LEFT JOIN ({triage_values_sql()}) tr (source, priority, kind_rank) "
        "ON tr.source = l.source AND tr.priority = l.priority",
    )
    without = base.format(rank="min(l.priority)", join="")
    times = {}
    with bench.connection.cursor() as cursor:
        cursor.execute("SET work_mem = '1GB'")
        for name, sql in (
            ("without", without),
            ("with", with_triage),
            ("without", without),
            ("with", with_triage),
        ):
            with bench.timer() as timed:
                cursor.execute(sql, [batch.id])
                cursor.fetchall()
            times[name] = min(times.get(name, timed.seconds), timed.seconds)
        cursor.execute("RESET work_mem")
    escalation = batch.step_times.get("triage escalation", 0.0)
    triage = max(0.0, times["with"] - times["without"]) + escalation
    bench.note(
        f"triage: lookup + per-person kind {times['with'] - times['without']:.2f} s (read with {times['with']:.2f} s, "
        f"without {times['without']:.2f} s), escalation step {escalation:.2f} s"
    )
    bench.report(
        "triage cost within run_intake (ratio = share of the run)",
        triage,
        "s",
        floor=run_seconds,
        target=0.1 * run_seconds,
    )


def _bench_api(bench, villages) -> None:
    from django.test import Client

    from tasks.models import Role, User

    user = User.objects.create_user(
        username="bench-duty", password="bench-password-1", role=Role.DUTY_OFFICER, division_id="46"
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    # A duty officer's session needs the second factor, as a real one would have passed it.
    from tests.conftest import complete_second_factor

    complete_second_factor(client, user)
    reported = timezone.now().replace(microsecond=0).isoformat()
    leads = []
    for n in range(10_000):
        first17 = f"460106{19800101 + n % 28:08d}{n % 1000:03d}"
        leads.append(
            {
                "source": SOURCES[n % len(SOURCES)],
                "external_id": f"api-{n}",
                "id_number": first17 + _check_digit(first17),
                "name": "测试" + GIVEN[n % 25],
                "phone": f"139{n:08d}",
                "division_code": villages[n % len(villages)][0],
                "reason": "bench",
                "reported_at": reported,
            }
        )
    body = json.dumps(leads, ensure_ascii=False)

    def post():
        # secure=True: production settings redirect plain HTTP to HTTPS.
        response = client.post("/api/v1/leads/", body, content_type="application/json", secure=True)
        if response.status_code == 403:
            # The session stack refused (e.g. a second factor the bench account has not passed): time the
            # view itself, with the same parsing, validation and writes, without the middleware.
            from rest_framework.test import APIRequestFactory, force_authenticate

            from tasks.api.intake import LeadViewSet

            request = APIRequestFactory().post("/api/v1/leads/", body, content_type="application/json")
            force_authenticate(request, user=user)
            response = LeadViewSet.as_view({"post": "create"})(request)
            response.render()
            return response.status_code, json.loads(response.content), "view"
        return response.status_code, response.json(), "HTTP stack (test client)"

    with bench.timer() as first:
        status, result, path = post()
    if status >= 300:
        bench.note(f"POST /api/v1/leads/ answered {status}: {str(result)[:200]}")
        return
    bench.report(
        f"POST /api/v1/leads/ 10,000 leads via {path} (accepted {result['accepted']:,})",
        first.seconds,
        "s",
        target=2,
    )
    with bench.timer() as again:
        status, result, path = post()
    bench.report(
        f"POST /api/v1/leads/ same 10,000 again (duplicates {result.get('duplicates', 0):,})",
        again.seconds,
        "s",
        target=2,
    )


if __name__ == "__main__":  # development convenience: python bench/bench_intake.py [scale]
    import sys

    from bench.run import main

    sys.exit(main(["intake", "--scale", sys.argv[1] if len(sys.argv) > 1 else "0.1"]))
