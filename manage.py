#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Without DATABASE_URL / REDIS_URL (a developer's shell), commands use the embedded PostgreSQL and Redis
of scripts/run.py in DEBUG mode, starting them when they are not running and stopping them afterwards
unless another process (run.py, test.py) still uses them. With both set (production, CI) nothing changes.
"""

import atexit
import os
import sys
from pathlib import Path


def _use_embedded_servers() -> None:
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))
    try:
        import embedded
    except ImportError:
        return  # not in the project's .venv: settings will say which variable is missing
    os.environ.setdefault("DEBUG", "true")
    services = embedded.services_from_env()
    services.start()
    atexit.register(services.stop)


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracing_center.settings")
    _use_embedded_servers()
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
