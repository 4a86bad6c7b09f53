"""How scripts/test.py spreads the suite over the cores with pytest-xdist (standard library only).

The whole suite (no test paths, node ids, -k, -m or --lf among the arguments) runs on one worker per core,
at most MAX_WORKERS, as `-n N --dist loadgroup`; a selection runs in one process, which starts faster.
TEST_WORKERS=N sets the count either way (0 or 1: one process); an explicit `-n N` is left as given.
Each worker has its own test database (pytest-django: test_<name>_gw0, ...) and Redis database
(REDIS_URL's number + the worker's index: tracing_center/env.py redis_for_test_worker).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

# Each worker runs its own Chromium, live server and Django: more than one per core only queues them,
# and a machine with many cores would run out of Redis databases (one per worker, 16 in all).
MAX_WORKERS = 4
REDIS_DATABASES = 16
# Options whose value may follow as the next word: that word is not a test path.
_VALUE_OPTIONS = {
    *("-p", "-k", "-m", "-c", "-o", "-W", "-n", "-r", "--durations", "--dist", "--maxfail", "--rootdir"),
    *("--tb", "--junitxml", "--basetemp", "--color", "--log-level", "--deselect", "--ignore"),
}
_SELECTING = ("-k", "-m", "--lf", "--last-failed", "--sw", "--stepwise")


def selects_tests(args: list[str]) -> bool:
    """Whether the arguments pick some of the tests (a path, a node id, -k, -m, --lf)."""
    previous = ""
    for arg in args:
        if arg in _SELECTING or arg.startswith(("-k", "-m")):
            return True
        if not arg.startswith("-") and previous not in _VALUE_OPTIONS:
            return True  # a path or node id (or an option's value we do not know: one process is safe)
        previous = arg
    return False


def redis_database(url: str) -> int:
    number = urlsplit(url).path.lstrip("/")
    return int(number) if number.isdigit() else 0


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(args: list[str], environ: Mapping[str, str]) -> int:
    wanted = environ.get("TEST_WORKERS", "").strip()
    if wanted:
        if not wanted.isdigit():
            raise SystemExit(f"[test] TEST_WORKERS must be a number of workers, got {wanted!r}")
        workers = int(wanted)
    elif selects_tests(args):
        workers = 0
    else:
        workers = min(cores(), MAX_WORKERS)
    # Worker i uses Redis database REDIS_URL's + i: the last one must exist.
    return min(workers, REDIS_DATABASES - redis_database(environ.get("REDIS_URL", "")))


def xdist_arguments(args: list[str], environ: Mapping[str, str]) -> list[str]:
    """What scripts/test.py puts before the user's pytest arguments."""
    if any(arg.endswith("no:xdist") for arg in args):  # `-p no:xdist`: xdist's options would be unknown
        return []
    dist = [] if any(arg.startswith("--dist") for arg in args) else ["--dist", "loadgroup"]
    if any(arg.startswith(("-n", "--numprocesses")) for arg in args):
        return dist  # harmless with -n 0: xdist then runs in one process
    workers = worker_count(args, environ)
    return ["-n", str(workers), *dist] if workers > 1 else []
