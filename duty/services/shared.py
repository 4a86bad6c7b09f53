"""Answers shared by every reader of a territory for a few seconds (the workload and predicted-breaches
APIs), without a stampede: a reader finding the answer stale gets it at once while one background
thread per process computes the next one. Only the very first reader of a territory waits.

Stale answers are kept STALE_FACTOR times the freshness (then a reader computes again in line); the
answer carries its own `now`, so a reader can tell its age."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connections

STALE_FACTOR = 12

_refreshing: set[str] = set()
_lock = threading.Lock()


def shared_answer(key: str, seconds: int, compute: Callable[[], Any]) -> Any:
    """compute(), or its value cached under `key` for `seconds` (0: always compute)."""
    if seconds <= 0:
        return compute()
    entry = cache.get(key)
    if entry is not None:
        value, fresh_until = entry
        if fresh_until < time.time():
            refresh_in_background(key, seconds, compute)
        return value
    return _store(key, seconds, compute())


def _store(key: str, seconds: int, value: Any) -> Any:
    cache.set(key, (value, time.time() + seconds), seconds * STALE_FACTOR)
    return value


def refresh_in_background(key: str, seconds: int, compute: Callable[[], Any]) -> None:
    with _lock:
        if key in _refreshing:
            return
        _refreshing.add(key)

    def run() -> None:
        try:
            _store(key, seconds, compute())
        finally:
            with _lock:
                _refreshing.discard(key)
            # The thread's own database connections.
            connections.close_all()

    threading.Thread(target=run, name=f"refresh {key}", daemon=True).start()
