"""load_divisions of the whole country (44,703 rows to township + 620,573 villages): target < 2 min.

Floor: a bare COPY of the same rows into an unindexed table, measured in the same run."""

import gzip
import io

from django.core.management import call_command

from bench.harness import DIVISIONS_DIR


def run(bench):
    townships = DIVISIONS_DIR / "china_townships.csv"
    villages = DIVISIONS_DIR / "china_villages.csv.gz"
    raw = (
        townships.read_bytes().split(b"\n", 1)[1] + gzip.decompress(villages.read_bytes()).split(b"\n", 1)[1]
    )
    rows = raw.count(b"\n")
    with bench.connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE division_copy_floor (code text, name text, level text, parent text)"
        )
        with bench.timer() as floor:
            with cursor.copy("COPY division_copy_floor FROM STDIN (FORMAT csv)") as copy:
                stream = io.BytesIO(raw)
                while chunk := stream.read(1 << 20):
                    copy.write(chunk)
        cursor.execute("DROP TABLE division_copy_floor")
    bench.report(f"COPY floor, {rows:,} rows", floor.seconds, "s")

    with bench.timer() as first:
        call_command("load_divisions", str(townships), str(villages), "--with-teams", verbosity=0)
    bench._country_loaded = True
    bench.report(
        "load_divisions whole country, first run (with teams)",
        first.seconds,
        "s",
        floor=floor.seconds,
        target=120,
    )
    with bench.timer() as second:
        call_command("load_divisions", str(townships), str(villages), "--with-teams", verbosity=0)
    bench.report(
        "load_divisions whole country, second run (no change)",
        second.seconds,
        "s",
        floor=floor.seconds,
        target=120,
    )

    sql = "SELECT count(*) FROM tasks_division WHERE code LIKE %s"
    with bench.timer() as subtree:
        with bench.connection.cursor() as cursor:
            cursor.execute(sql, ["460105%"])
    bench.report("subtree query (everything under county 460105)", subtree.seconds * 1000, "ms", target=50)
    bench.note(bench.explain("SELECT count(*) FROM tasks_division WHERE code LIKE '460105%'"))
