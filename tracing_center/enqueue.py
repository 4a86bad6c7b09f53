"""Enqueue a Celery job after the current transaction commits, without ever failing the caller.

Every job enqueued from a write goes through here. The write is what matters: when the broker is down
the committed write must still answer its user normally, and the periodic job that owns the work (the
upstream resend, the notification delivery run, ...) picks it up from the database on its next beat. So
a failed publish is logged and swallowed, never raised out of the `on_commit` callback (where it would
turn a committed request into a 500 and make the user's retry hit a state that already moved on).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import transaction

logger = logging.getLogger("tracing_center.enqueue")

__all__ = ["enqueue_now", "enqueue_on_commit"]


def enqueue_now(task: Task, *args: Any, **kwargs: Any) -> bool:
    """Publish `task` now; False (and a log line) when the broker cannot take it."""
    try:
        task.delay(*args, **kwargs)
    except Exception:  # kombu/redis raise many types (OperationalError, ConnectionError, OSError, ...)
        logger.warning(
            "could not enqueue %s%r: broker unreachable; its periodic job will catch up",
            task.name,
            args,
            exc_info=True,
        )
        return False
    return True


def enqueue_on_commit(task: Task, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Publish `task(*args, **kwargs)` once the transaction commits (now when none is open); never raises."""
    transaction.on_commit(lambda: enqueue_now(task, *args, **kwargs), using=using)
