#!/usr/bin/env python3
"""Run the benchmarks: `python3 scripts/bench.py [AREA ...] [--scale S]`.

Same bootstrap as scripts/test.py. Without DATABASE_URL / REDIS_URL the embedded servers are used.
The benchmarks work in their own database (`<name>_bench`, recreated every run) and print every
figure with its ratio to the floor measured in the same run; see bench/harness.py.
"""

import sys

if sys.version_info < (3, 11):
    sys.exit("Python 3.11 or newer is required. Run `python3.11 scripts/bench.py`.")

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bootstrap

_bootstrap.bootstrap("requirements-test.txt")

# ---- inside .venv from here on ---------------------------------------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402

import embedded  # noqa: E402

BENCH_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    "STATIC_MANIFEST": "false",
    "PYTHONUNBUFFERED": "1",
}


def main() -> int:
    for name, value in BENCH_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    embedded.raise_on_termination()
    services = embedded.services_from_env(redis_db=2)
    try:
        services.start()
        return subprocess.run(
            [sys.executable, "-m", "bench.run", *sys.argv[1:]], cwd=_bootstrap.ROOT
        ).returncode
    except (embedded.Terminated, KeyboardInterrupt):
        return 130
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
