"""Reads from a streaming replica (tracing_center/db_router.py), against a real one.

The machine's PostgreSQL allows no replication connections (pg_hba.conf has no `replication` line), and
the tests must not reconfigure or restart it, so this module starts a throwaway primary + streaming
replica (pg_basebackup) from Debian's PostgreSQL binaries on free ports in a temporary folder, and stops
them at the end. Skipped, saying why, only when those binaries are missing.
"""

from __future__ import annotations

import copy
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tracing_center import db_router

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
PG_BIN = Path(PG_BINS[-1]) if PG_BINS else None
# In a parallel run the whole module goes to one worker: the primary and replica (a module fixture) start
# once, not once per worker.
pytestmark = pytest.mark.xdist_group("replica-pair")
needs_binaries = pytest.mark.skipif(
    PG_BIN is None or not (PG_BIN / "pg_basebackup").exists(),
    reason="Debian's PostgreSQL server binaries (/usr/lib/postgresql/*/bin: initdb, pg_ctl, pg_basebackup) "
    "are not installed: `apt-get install postgresql` to run the replica tests",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Pair:
    """A throwaway primary and its streaming replica, run as the postgres user when we are root."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.primary, self.replica = folder / "primary", folder / "replica"
        self.primary_port, self.replica_port = _free_port(), _free_port()
        self.account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    def run(self, exe: str, *args: str) -> str:
        command = [str(PG_BIN / exe), *args]
        if self.account is not None:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=self.folder, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            raise AssertionError(f"{exe} {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def configure(self, data: Path, port: int) -> None:
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.folder}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nfsync = off\nshared_buffers = 16MB\n"
            )

    def start(self) -> None:
        self.folder.chmod(0o700)
        if self.account is not None:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        self.run(
            "initdb", "-D", str(self.primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"
        )
        self.configure(self.primary, self.primary_port)
        with open(self.primary / "pg_hba.conf", "a") as hba:
            hba.write("\nhost replication all 127.0.0.1/32 trust\n")
        self.run("pg_ctl", "-D", str(self.primary), "-l", str(self.folder / "primary.log"), "-w", "start")
        self.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
            "-D", str(self.replica), "-R", "-X", "stream",
        )  # fmt: skip
        self.configure(self.replica, self.replica_port)
        self.run("pg_ctl", "-D", str(self.replica), "-l", str(self.folder / "replica.log"), "-w", "start")

    def stop(self, data: Path) -> None:
        if (data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    folder = Path(tempfile.mkdtemp(prefix="tc-replica-"))
    pair = Pair(folder)
    try:
        pair.start()
        yield pair
    finally:
        for data in (pair.replica, pair.primary):
            try:
                pair.stop(data)
            except AssertionError as exc:
                print(exc)
        shutil.rmtree(folder, ignore_errors=True)


def _alias(name: str, **overrides) -> None:
    """A connection registered under `name` without a settings entry: Django's test case lets a test
    use such a dynamically created connection (it would refuse an alias it did not set up)."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    config = copy.deepcopy(connections["default"].settings_dict)  # the test database
    config["OPTIONS"].pop("pool", None)
    config.update(CONN_MAX_AGE=0, **overrides)
    connections[name] = DatabaseWrapper(config, alias=name)


def _drop_alias(name: str) -> None:
    wrapper = getattr(connections._connections, name, None)
    if wrapper is not None:
        wrapper.close()
        del connections[name]


@pytest.fixture
def aliases(pair, settings):
    settings.REPLICA_CHECK_SECONDS = 0
    _alias("primary_pair", HOST="127.0.0.1", PORT=pair.primary_port, NAME="postgres", USER="postgres")
    _alias(
        db_router.REPLICA_ALIAS,
        HOST="127.0.0.1",
        PORT=pair.replica_port,
        NAME="postgres",
        USER="postgres",
    )
    db_router.forget_replica_state()
    try:
        yield connections["primary_pair"], connections[db_router.REPLICA_ALIAS]
    finally:
        _drop_alias("primary_pair")
        _drop_alias(db_router.REPLICA_ALIAS)
        db_router.forget_replica_state()


def _scalar(connection, sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _execute(connection, *statements: str) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _until(predicate, what: str, seconds: float = 60) -> None:
    """Replication is asynchronous: wait (bounded) for the replica to show what the primary wrote."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"the replica did not {what} within {seconds} s")
        time.sleep(0.05)


@needs_binaries
@pytest.mark.django_db
def test_reads_go_to_a_healthy_replica_and_to_the_primary_when_it_lags_or_is_down(pair, aliases, settings):
    primary, replica = aliases
    _execute(primary, "CREATE TABLE IF NOT EXISTS probe (x int)", "INSERT INTO probe VALUES (1)")
    _until(
        lambda: _scalar(replica, "SELECT count(*) FROM pg_class WHERE relname = 'probe'") == 1,
        "get the table",
    )

    # Healthy: the selectors' reads run on the replica (in recovery), and see the primary's data.
    settings.REPLICA_MAX_LAG_SECONDS = 30
    with db_router.replica_reads() as alias:
        assert alias == db_router.REPLICA_ALIAS
        assert _scalar(db_router.read_connection(), "SELECT pg_is_in_recovery()") is True
        assert _scalar(db_router.read_connection(), "SELECT count(*) FROM probe") >= 1
    assert db_router.read_alias() == "default"  # outside: the primary

    # Lagging: replay paused while the primary writes on.
    _execute(replica, "SELECT pg_wal_replay_pause()")
    try:
        _execute(primary, "INSERT INTO probe VALUES (2)")
        _until(
            lambda: _scalar(replica, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"),
            "receive WAL it has not replayed",
        )
        lag = db_router.replica_lag()
        assert lag is not None and lag > 0
        settings.REPLICA_MAX_LAG_SECONDS = 0  # the bound is below the lag: the primary answers
        db_router.forget_replica_state()
        with db_router.replica_reads() as alias:
            assert alias == "default"
        settings.REPLICA_MAX_LAG_SECONDS = 3600  # within the bound: the replica again
        db_router.forget_replica_state()
        with db_router.replica_reads() as alias:
            assert alias == db_router.REPLICA_ALIAS
    finally:
        _execute(replica, "SELECT pg_wal_replay_resume()")

    # Down: the same reads fall back to the primary.
    connections[db_router.REPLICA_ALIAS].close()
    pair.stop(pair.replica)
    db_router.forget_replica_state()
    with db_router.replica_reads() as alias:
        assert alias == "default"
        assert _scalar(db_router.read_connection(), "SELECT 1") == 1


@pytest.mark.django_db(transaction=True)
def test_the_statistics_selectors_read_through_the_replica_alias(commander, settings):
    """With a replica configured (here: a second connection to the test database, which is what a
    replica holds), the statistics table, the SLA figures and the dashboard run their queries on it."""
    from reports import stats

    settings.REPLICA_CHECK_SECONDS = 0
    _alias(db_router.REPLICA_ALIAS)
    db_router.forget_replica_state()
    try:
        replica = connections[db_router.REPLICA_ALIAS]
        with (
            CaptureQueriesContext(replica) as on_replica,
            CaptureQueriesContext(connections["default"]) as on_primary,
            mock.patch.object(db_router, "replica_lag", return_value=0.0),
        ):
            q = stats.parse_query(commander, {})
            before = len(on_primary.captured_queries)
            stats.table(q)
            stats.sla(q)
            stats.dashboard(commander, "4601")
        assert len(on_replica.captured_queries) > 0
        assert len(on_primary.captured_queries) == before, on_primary.captured_queries[before:]
    finally:
        _drop_alias(db_router.REPLICA_ALIAS)
        db_router.forget_replica_state()
