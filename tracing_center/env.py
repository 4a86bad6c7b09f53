"""Settings from the environment, read through helpers that refuse bad values.

A command center must not start with a silently misread setting (a DEBUG=flase that turns debug on,
a DATABASE_URL with a typo that falls back to something else), so every helper raises
ImproperlyConfigured naming the variable and what was wrong with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MISSING = object()


def _raw(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_str(name: str, default: Any = _MISSING) -> str:
    return _raw(name, default)


def env_bool(name: str, default: Any = _MISSING) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={value!r} is not a boolean: use one of {sorted(_TRUE | _FALSE)}."
    )


def env_int(name: str, default: Any = _MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"Environment variable {name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"Environment variable {name}={number} must be at least {minimum}.")
    return number


def env_list(name: str, default: Any = _MISSING) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [item.strip() for item in str(value).split(",") if item.strip()]


def env_choice(name: str, default: Any, choices: Iterable[str]) -> str:
    value = str(_raw(name, default)).strip()
    allowed = list(choices)
    if value not in allowed:
        raise ImproperlyConfigured(f"Environment variable {name}={value!r} must be one of {allowed}.")
    return value


def env_database(name: str = "DATABASE_URL") -> dict[str, Any]:
    url = _raw(name, _MISSING)
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        # The intake, the clocks and the statistics are PostgreSQL SQL; no other engine is supported.
        raise ImproperlyConfigured(
            f"{name} must be a PostgreSQL URL (postgres://user@host:port/db or "
            f"postgres://user@/db?host=/socket/dir), got {url!r}."
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # environ raises several types for malformed URLs
        raise ImproperlyConfigured(f"{name}={url!r} cannot be parsed: {exc}") from None
    config["ENGINE"] = "django.db.backends.postgresql"
    # A Unix socket directory may come as ?host=/path or percent-encoded in the host part; Django and
    # the tools that read settings (benchmarks, scripts) expect it in HOST.
    options = config.get("OPTIONS") or {}
    if not config.get("HOST") and options.get("host"):
        config["HOST"] = options.pop("host")
    config["HOST"] = unquote(config.get("HOST") or "")
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={url!r} names no database.")
    return config


def env_redis(name: str, default: Any = _MISSING) -> str:
    url = _raw(name, default)
    if not str(url).startswith(("redis://", "rediss://", "redis+socket://", "unix://")):
        raise ImproperlyConfigured(
            f"{name} must be a Redis URL (redis://host:port/db or redis+socket:///path), got {url!r}."
        )
    return url


# Redis keeps 16 numbered databases unless configured otherwise (embedded.py's server too).
REDIS_DATABASES = 16


def xdist_worker_index() -> int | None:
    """0, 1, ... in a pytest-xdist worker process (PYTEST_XDIST_WORKER gw0, gw1, ...), None elsewhere.

    Subprocesses a test starts (manage.py commands, a nested pytest) inherit the variable and so agree
    with their worker about which Redis database is theirs."""
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else None


def redis_for_test_worker(name: str, url: str) -> str:
    """`url` with its database number raised by the xdist worker's index: the workers of a parallel test
    run share one Redis server, and on one database each would flush the other's keys and consume the
    other's Celery messages. REDIS_URL .../1 with two workers gives 1 and 2; outside xdist, unchanged."""
    index = xdist_worker_index()
    if not index:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not re.fullmatch(r"/?\d*", parts.path):
        raise ImproperlyConfigured(
            f"{name}: parallel tests need a redis://host:port/db URL to give each worker its own "
            f"database, got {url!r}."
        )
    database = int(parts.path.lstrip("/") or 0) + index
    if database >= REDIS_DATABASES:
        raise ImproperlyConfigured(
            f"{name}: test worker {index} would use Redis database {database}, past the last one "
            f"({REDIS_DATABASES - 1}): start from a lower database or run fewer workers."
        )
    return urlunsplit(parts._replace(path=f"/{database}"))
