#!/usr/bin/env python3
"""Run the Tracing Command Center on this machine: `python3 scripts/run.py`.

First run: creates .venv and installs requirements.txt (later runs skip that while the requirements are
unchanged). Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL and Redis whose data stay
in .local/ between runs. Then it migrates, loads the Hainan territory, seeds the demo (one account per
role and a city desk, printed below by role, and data for every page: docs/pages.md), and runs the web
server, a Celery worker and Celery beat until Ctrl+C.

Environment: PORT (default 8000), HOST (default 127.0.0.1), DEBUG (default true), DATABASE_URL,
REDIS_URL, WEB_WORKERS (default 2).
"""

import sys

if sys.version_info < (3, 11):
    sys.exit(
        "Python 3.11 or newer is required, this is %s (%s). Run `python3.11 scripts/run.py`."
        % (sys.version.split()[0], sys.executable)
    )

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bootstrap

_bootstrap.bootstrap("requirements.txt")

# ---- inside .venv from here on ---------------------------------------------------------------------
import ctypes  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import embedded  # noqa: E402

ROOT = _bootstrap.ROOT
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def manage(*args: str) -> None:
    say("manage.py " + " ".join(args))
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"[run] manage.py {' '.join(args)} failed with exit code {result.returncode}")


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if run.py dies without cleaning up (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_child(name: str, args: list[str]) -> subprocess.Popen:
    say(f"starting {name}: {' '.join(args)}")
    # Own process group: Ctrl+C reaches only run.py, which then stops the children in order.
    return subprocess.Popen(args, cwd=ROOT, process_group=0, preexec_fn=_die_with_parent)


def stop_children(children: dict[str, subprocess.Popen], timeout: float = 30) -> None:
    for name, child in children.items():
        if child.poll() is None:
            say(f"stopping {name}")
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for name, child in children.items():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in {timeout:.0f} s: SIGKILL")
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, child: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT", "8000"))
    except ValueError:
        raise SystemExit(f"[run] PORT={os.environ['PORT']!r} is not a number") from None
    if not port_is_free(host, port):
        raise SystemExit(f"[run] {host}:{port} is already in use: stop what runs there or set PORT=8001.")

    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(ROOT / ".local" / "celerybeat-schedule"))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    (ROOT / ".local").mkdir(exist_ok=True)

    embedded.raise_on_termination()
    services = embedded.services_from_env(redis_db=0)
    children: dict[str, subprocess.Popen] = {}
    try:
        services.start()
        manage("migrate", "--noinput")
        manage("load_divisions", "tasks/data/hainan.csv", "--with-teams")
        manage("seed_demo")

        children["web"] = start_child(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "tracing_center.wsgi:application",
                "--bind",
                f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "--workers",
                os.environ.get("WEB_WORKERS", "2"),
                "--no-control-socket",
                "--access-logfile",
                "-",
                "--timeout",
                "120",
            ],
        )
        children["worker"] = start_child(
            "worker", [PYTHON, "-m", "celery", "-A", "tracing_center", "worker", "-c", "2", "-l", "INFO"]
        )
        children["beat"] = start_child(
            "beat", [PYTHON, "-m", "celery", "-A", "tracing_center", "beat", "-l", "INFO"]
        )

        if not wait_for_port(host, port, children["web"]):
            say("the web server did not come up")
            return 1
        time.sleep(3)  # let the worker and beat print their banners first, so the address is the last thing
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        print(
            f"\n    Tracing Command Center is running: open http://{shown}:{port}/"
            f"\n    (demo accounts are printed above; Ctrl+C stops everything)\n",
            flush=True,
        )

        while True:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    say(f"{name} exited with code {code}: stopping everything")
                    return 1
            time.sleep(0.5)
    except (KeyboardInterrupt, embedded.Terminated):
        print(file=sys.stderr)
        say("stopping")
        return 0
    finally:
        # A second Ctrl+C / SIGTERM must not cut the clean shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
