"""The benchmark harness: a fresh, migrated database, a report line per figure, and its ratio to the
floor measured in the same run (so a slow machine shows up in the floor, not as a false regression).

Each bench/bench_<area>.py defines `run(bench)`. Figures are printed, never asserted: performance
targets are read from this output (and quoted in the README), not from timed unit tests.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIVISIONS_DIR = ROOT.parent / "shared" / "data" / "divisions"
HAINAN_CSV = ROOT / "tasks" / "data" / "hainan.csv"


@dataclass
class Figure:
    area: str
    label: str
    value: float
    unit: str
    floor: float | None
    target: float | None
    better: str

    @property
    def ratio(self) -> float | None:
        if not self.floor:
            return None
        return self.value / self.floor

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        ok = self.value <= self.target if self.better == "lower" else self.value >= self.target
        sign = "<" if self.better == "lower" else ">"
        return f"target {sign} {_fmt(self.target)} {self.unit}: {'met' if ok else 'MISSED'}"


class Timer:
    seconds: float = 0.0


@dataclass
class Bench:
    connection: object
    scale: float = 1.0
    area: str = ""
    figures: list[Figure] = field(default_factory=list)
    _country_loaded: bool = False

    def report(
        self,
        label: str,
        value: float,
        unit: str,
        *,
        floor: float | None = None,
        target: float | None = None,
        better: str = "lower",
    ) -> Figure:
        figure = Figure(self.area, label, value, unit, floor, target, better)
        self.figures.append(figure)
        parts = [f"  {label}: {_fmt(value)} {unit}"]
        if floor is not None:
            parts.append(f"floor {_fmt(floor)} {unit}, ratio {figure.ratio:.2f}×")
        if figure.verdict:
            parts.append(figure.verdict)
        print(" | ".join(parts), flush=True)
        return figure

    def note(self, text: str) -> None:
        for line in text.rstrip().splitlines():
            print(f"    {line}", flush=True)

    @contextmanager
    def timer(self):
        timer = Timer()
        started = time.perf_counter()
        try:
            yield timer
        finally:
            timer.seconds = time.perf_counter() - started

    def load_country(self) -> None:
        """Load the whole national territory (to village level) with its units, once per run."""
        if self._country_loaded:
            return
        from django.core.management import call_command

        call_command(
            "load_divisions",
            str(DIVISIONS_DIR / "china_townships.csv"),
            str(DIVISIONS_DIR / "china_villages.csv.gz"),
            "--with-teams",
            verbosity=0,
        )
        self._country_loaded = True

    def scaled(self, n: int, minimum: int = 1) -> int:
        return max(minimum, int(n * self.scale))

    def explain(self, sql: str, params=None) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


# ---- the project served over real HTTP ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    port: int,
    *,
    app: str = "tracing_center.wsgi:application",
    workers: int = 2,
    ready_path: str = "/healthz",
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """gunicorn serving `app` on loopback with the production settings but TLS (plain HTTP on
    127.0.0.1), once `ready_path` answers 200; stopped by the caller."""
    environment = {
        **os.environ,
        **(env or {}),
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "STATIC_MANIFEST": "false",
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [
            gunicorn,
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            app,
        ],
        env=environment,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(
        "gunicorn did not start: " + (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
    )
