"""Reads from a PostgreSQL streaming replica, for the read-only selectors that can take slightly old data.

With DATABASE_REPLICA_URL set, settings add a `replica` database. The statistics, dashboard and export
selectors (reports/stats.py) run inside `replica_reads()`: while it is active, ORM reads go to the
replica (ReplicaRouter) and raw SQL uses `read_connection()`. Everything else, and every write, stays on
the primary. The replica is used only while it answers and its replay lag is within
REPLICA_MAX_LAG_SECONDS; otherwise the same reads go to the primary. The verdict is kept for
REPLICA_CHECK_SECONDS per process, so a busy dashboard does not ask the replica for its lag on every
request, and a replica that went down costs one failed connection attempt (bounded by connect_timeout)
per period.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.connection import ConnectionDoesNotExist

logger = logging.getLogger("tracing_center.replica")

REPLICA_ALIAS = "replica"
_reading: contextvars.ContextVar[str | None] = contextvars.ContextVar("replica_reads", default=None)
_verdict: dict[str, tuple[float, bool]] = {}
_verdict_lock = threading.Lock()

# Lag in seconds; 0 when the replica has replayed everything it received (an idle primary sends no new
# transactions, so "now - last replayed transaction" alone would grow without any real lag).
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
"""


def replica_configured() -> bool:
    try:
        connections[REPLICA_ALIAS]
    except ConnectionDoesNotExist:
        return False
    return True


def replica_lag(alias: str = REPLICA_ALIAS) -> float | None:
    """Replay lag of the replica in seconds; None when it is not a replica or cannot be reached."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, lag = cursor.fetchone()
    except Exception as exc:  # down, refused, timed out, misconfigured: the primary answers instead
        logger.warning("replica %s unusable, reading from the primary: %s", alias, exc)
        with contextlib.suppress(Exception):
            connections[alias].close()
        return None
    if not in_recovery:
        logger.warning("replica %s is not in recovery (promoted?): reading from the primary", alias)
        return None
    return float(lag)


def replica_usable(*, now: float | None = None) -> bool:
    if not replica_configured():
        return False
    now = time.monotonic() if now is None else now
    with _verdict_lock:
        cached = _verdict.get(REPLICA_ALIAS)
    if cached is not None and now - cached[0] < settings.REPLICA_CHECK_SECONDS:
        return cached[1]
    lag = replica_lag()
    usable = lag is not None and lag <= settings.REPLICA_MAX_LAG_SECONDS
    if lag is not None and not usable:
        logger.warning(
            "replica lags %.1f s (> %s s): reading from the primary", lag, settings.REPLICA_MAX_LAG_SECONDS
        )
    with _verdict_lock:
        _verdict[REPLICA_ALIAS] = (now, usable)
    return usable


def forget_replica_state() -> None:
    """Check the replica again on the next read (tests, and after a failover)."""
    with _verdict_lock:
        _verdict.clear()


@contextlib.contextmanager
def replica_reads() -> Iterator[str]:
    """Reads inside go to the replica when it is usable, else to the primary; yields the alias used."""
    current = _reading.get()
    if current is not None:  # nested: keep the outer choice
        yield current
        return
    alias = REPLICA_ALIAS if replica_usable() else DEFAULT_DB_ALIAS
    token = _reading.set(alias)
    try:
        yield alias
    finally:
        _reading.reset(token)


F = TypeVar("F", bound=Callable[..., Any])


def reads_from_replica(function: F) -> F:
    """Decorator form of replica_reads() for a read-only selector."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with replica_reads():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def read_alias() -> str:
    return _reading.get() or DEFAULT_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    """The connection raw-SQL reads use: the replica inside replica_reads() when usable."""
    return connections[read_alias()]


class ReplicaRouter:
    """ORM reads inside replica_reads() go to the alias it chose; writes and migrations to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return _reading.get()

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
