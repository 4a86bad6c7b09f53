#!/usr/bin/env python3
"""Run the test suite: `python3 scripts/test.py [pytest arguments]`.

Same bootstrap as scripts/run.py but with requirements-test.txt. Without DATABASE_URL / REDIS_URL it
uses embedded PostgreSQL and Redis servers of its own (data in .local/test/, apart from the ones
scripts/run.py uses; pytest-django creates test_tracing_center there). Exits with pytest's exit code (5, "no tests collected", counts as a failure).

Browser tests (tests/browser) need Debian's Chromium: `apt-get install chromium` (or CHROMIUM_PATH).

Parallel: the whole suite runs on every core with pytest-xdist, a selection (-k, test paths) in one
process; TEST_WORKERS=N or -n N sets the count (scripts/parallel_tests.py, docs/operations.md).
"""

import sys

if sys.version_info < (3, 11):
    sys.exit(
        "Python 3.11 or newer is required, this is %s (%s). Run `python3.11 scripts/test.py`."
        % (sys.version.split()[0], sys.executable)
    )

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bootstrap

_bootstrap.bootstrap("requirements-test.txt")

# ---- inside .venv from here on ---------------------------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402

import embedded  # noqa: E402
import parallel_tests  # noqa: E402

TEST_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "test-only-secret-key-not-for-production-0123456789abcdef",
    # Encryption at rest (docs/encryption.md): a fixed test-only key; required when DEBUG is off.
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],testserver",
    # Browser tests run against live_server, which serves static files from the finders: no manifest.
    "STATIC_MANIFEST": "false",
    # live_server speaks plain HTTP: no redirect to https, cookies not marked Secure, no HSTS
    # (production defaults when DEBUG is off; without these the browser gets ERR_SSL_PROTOCOL_ERROR).
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "CELERY_BEAT_SCHEDULE_FILENAME": str(_bootstrap.ROOT / ".local" / "celerybeat-schedule-test"),
    "PYTHONUNBUFFERED": "1",
}


def main() -> int:
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    embedded.raise_on_termination()
    # Embedded servers of the suite's own (.local/test/): a running scripts/run.py keeps its servers.
    services = embedded.services_from_env(redis_db=1, profile="test")
    pytest = None
    try:
        services.start()
        args = sys.argv[1:]
        command = [
            sys.executable,
            "-m",
            "pytest",
            *parallel_tests.xdist_arguments(args, os.environ),
            *args,
        ]
        print(f"[test] {' '.join(command)}", file=sys.stderr, flush=True)
        # pytest shares our process group: Ctrl+C reaches it directly; we wait for it to finish.
        pytest = subprocess.Popen(command, cwd=_bootstrap.ROOT)
        while True:
            try:
                code = pytest.wait()
                break
            except KeyboardInterrupt:
                continue
        if code == 5:
            print("[test] pytest collected no tests (exit 5): counted as a failure", file=sys.stderr)
        return code
    except embedded.Terminated as stop:
        if pytest is not None and pytest.poll() is None:
            pytest.send_signal(stop.signum)
            pytest.wait()
        return 128 + stop.signum
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
