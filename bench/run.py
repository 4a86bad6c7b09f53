"""Run the benchmarks: `python -m bench.run [AREA ...] [--scale S]` inside the project's environment
(scripts/bench.py sets that up, with the embedded servers when DATABASE_URL is not given).

The benchmarks run in their own database, `<DATABASE_URL's name>_bench`, dropped and recreated on
every run, so they never touch development data and always start from the same state.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_database_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"]
    if os.environ.get("BENCH_DATABASE_URL"):
        return base
    head, _, tail = base.partition("?")
    prefix, _, name = head.rpartition("/")
    return f"{prefix}/{name}_bench" + (f"?{tail}" if tail else "")


def _recreate_database(url: str) -> None:
    import psycopg
    from django.db import connections

    settings_db = connections["default"].settings_dict
    name = settings_db["NAME"]
    params = {
        k: v
        for k, v in {
            "host": settings_db.get("HOST"),
            "port": settings_db.get("PORT"),
            "user": settings_db.get("USER"),
            "password": settings_db.get("PASSWORD"),
        }.items()
        if v
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _server_settings(connection) -> str:
    """The server's version and the settings that decide bulk-write speed (figures depend on them)."""
    names = ("shared_buffers", "max_wal_size", "wal_compression", "synchronous_commit", "checkpoint_timeout")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name", [list(names)]
        )
        settings = ", ".join(
            f"{name}={setting}{'' if unit is None else ' ' + unit}"
            for name, setting, unit in cursor.fetchall()
        )
    return f"PostgreSQL {version}; {settings}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "areas", nargs="*", help="benchmark areas to run (default: all); e.g. divisions intake"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE", "1.0")),
        help="size of the generated data, 1.0 = the sizes the issues name",
    )
    args = parser.parse_args(argv)

    os.environ["DATABASE_URL"] = _bench_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracing_center.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2htYXJrLW9ubHktZmllbGQtZW5jcnlwdGlvbi0=")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.harness import HAINAN_CSV, Bench

    _recreate_database(os.environ["DATABASE_URL"])
    call_command("migrate", verbosity=0)
    call_command("load_divisions", str(HAINAN_CSV), "--with-teams", verbosity=0)

    bench_dir = Path(__file__).parent
    available = sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules([str(bench_dir)]) if m.name.startswith("bench_")
    )
    chosen = args.areas or available
    unknown = [a for a in chosen if a not in available]
    if unknown:
        parser.error(f"unknown area(s) {', '.join(unknown)}; available: {', '.join(available)}")

    bench = Bench(connection=connection, scale=args.scale)
    print(
        f"Benchmarks on {os.cpu_count()} cores, scale {args.scale}, database {connection.settings_dict['NAME']}",
        flush=True,
    )
    print(f"Server: {_server_settings(connection)}", flush=True)
    for area in chosen:
        module = importlib.import_module(f"bench.bench_{area}")
        bench.area = area
        print(f"\n== {area} ==", flush=True)
        started = time.perf_counter()
        module.run(bench)
        print(f"  ({area} took {time.perf_counter() - started:.1f} s)", flush=True)

    print("\nSummary")
    for f in bench.figures:
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "-"
        print(f"  {f.area:<10} {f.label:<58} {f.value:>12.4g} {f.unit:<8} ratio {ratio:<7} {f.verdict}")
    missed = [f for f in bench.figures if f.verdict.endswith("MISSED")]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
