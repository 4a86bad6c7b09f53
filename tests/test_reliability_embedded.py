"""The embedded-server registry (scripts/embedded.py) never drops a live user, and the test suite
uses servers of its own, so running the tests never stops the servers a running demo uses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import embedded  # noqa: E402

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {scripts!r})
    import embedded
    local = Path({local!r})
    embedded.LOCAL, embedded.REGISTRY, embedded.LOCK, embedded.USERS = (
        local, local / "embedded.json", local / "embedded.lock", local / "users")

    class Fake:
        name, env_name, key = "fake", "FAKE_SERVER_URL", "fake:demo"
        def start(self): pass
        def stop(self): Path({stopped!r}).write_text("stopped by the child")
        def url(self): return "fake://"

    services = embedded.Services([Fake()]).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    services.stop()
    """
)


class FakeServer:
    name, env_name, key = "fake", "FAKE_SERVER_URL", "fake:demo"

    def __init__(self) -> None:
        self.stopped = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped += 1

    def url(self) -> str:
        return "fake://"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "LOCAL", tmp_path)
    monkeypatch.setattr(embedded, "REGISTRY", tmp_path / "embedded.json")
    monkeypatch.setattr(embedded, "LOCK", tmp_path / "embedded.lock")
    monkeypatch.setattr(embedded, "USERS", tmp_path / "users", raising=False)
    monkeypatch.delenv("FAKE_SERVER_URL", raising=False)
    return tmp_path


@pytest.fixture
def demo(state):
    """Another process (a running demo) that uses the fake server."""
    stopped = state / "stopped"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD.format(scripts=str(ROOT / "scripts"), local=str(state), stopped=str(stopped)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    yield child, stopped
    if child.poll() is None:
        child.stdin.close()
        child.wait(30)


def test_a_live_user_is_kept_even_when_its_start_time_reads_differently(demo, monkeypatch):
    """psutil derives a start time from the boot time, which jitters: that must not count as gone."""
    child, _ = demo
    real = psutil.Process.create_time
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 3.0)
    server = FakeServer()
    services = embedded.Services([server]).start()
    services.stop()
    assert server.stopped == 0, "the server was stopped under a running user"


def test_the_last_user_to_leave_stops_the_server_also_after_a_killed_one(demo):
    child, stopped = demo
    child.kill()  # SIGKILL: no chance to deregister
    child.wait(30)
    server = FakeServer()
    services = embedded.Services([server]).start()
    services.stop()
    assert server.stopped == 1
    assert not stopped.exists()


def test_a_live_user_leaving_last_stops_the_server(demo):
    child, stopped = demo
    server = FakeServer()
    embedded.Services([server]).start().stop()
    assert server.stopped == 0
    child.stdin.close()
    assert child.wait(30) == 0
    assert stopped.read_text() == "stopped by the child"


def test_the_suite_uses_servers_apart_from_the_demo(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(embedded.EmbeddedPostgres, "_ensure_system_user", staticmethod(lambda name: None))
    demo_servers = embedded.services_from_env(redis_db=0).servers
    test_servers = embedded.services_from_env(redis_db=1, profile="test").servers
    assert {s.key for s in demo_servers}.isdisjoint({s.key for s in test_servers})
    test_script = (ROOT / "scripts" / "test.py").read_text()
    assert 'profile="test"' in test_script


def test_a_user_registered_by_the_previous_version_is_kept(state):
    """Upgrading while a demo runs: its [pid, start time] entry under the old key still counts."""
    import json
    import os

    pgdata = state / "pgdata"
    (state / "embedded.json").write_text(json.dumps({"postgres": [[os.getppid(), 0.0]]}))
    server = FakeServer()
    server.key = f"postgres:{pgdata}"
    embedded.Services([server]).start().stop()
    assert server.stopped == 0
