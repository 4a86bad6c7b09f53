#!/usr/bin/env python3
"""The quality gate: `python3 scripts/lint.py`. Runs ruff (lint), the ruff format check and mypy (with
django-stubs and djangorestframework-stubs; configuration in pyproject.toml) over the checkout, each to
the end, and exits non-zero when any of them found something. .ci/run runs it before the tests.

Same bootstrap as scripts/test.py (requirements-test.txt pins the tools). mypy's Django plugin imports
the settings, so the variables they require get placeholder values here; nothing connects to them.
"""

import sys

if sys.version_info < (3, 11):
    sys.exit(
        "Python 3.11 or newer is required, this is %s (%s). Run `python3.11 scripts/lint.py`."
        % (sys.version.split()[0], sys.executable)
    )

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bootstrap

_bootstrap.bootstrap("requirements-test.txt")

# ---- inside .venv from here on ---------------------------------------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402

SETTINGS_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "tracing_center.settings",
    "DEBUG": "false",
    "SECRET_KEY": "lint-only-secret-key-not-for-production-0123456789abcdef",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=",
    "ALLOWED_HOSTS": "localhost",
    "DATABASE_URL": "postgres://lint@127.0.0.1:5432/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}

CHECKS = [
    ("ruff check", [sys.executable, "-m", "ruff", "check", "."]),
    ("ruff format --check", [sys.executable, "-m", "ruff", "format", "--check", "."]),
    ("mypy", [sys.executable, "-m", "mypy"]),
]


def main() -> int:
    env = dict(os.environ)
    for name, value in SETTINGS_ENVIRONMENT.items():
        env.setdefault(name, value)
    failed = []
    for name, command in CHECKS:
        print(f"[lint] {name}", file=sys.stderr, flush=True)
        if subprocess.run(command, cwd=_bootstrap.ROOT, env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(f"[lint] FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("[lint] all clean", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
