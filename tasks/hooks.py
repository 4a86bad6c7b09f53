"""Hooks through which the apps built on `tasks` follow what happens to tasks, without `tasks` importing
them (dependencies point one way: reports → notices → reviews → tasks).

An upper app registers a receiver in its `AppConfig.ready()`; the service that changes the state calls
the hook inside its transaction, so a receiver's writes commit or roll back with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

TasksEnded = Callable[..., object]

_tasks_ended: dict[str, TasksEnded] = {}


def on_tasks_ended(name: str, receiver: TasksEnded) -> None:
    """`receiver(task_ids=[...], now=...)` runs whenever tasks end (closed, cancelled or merged), once
    per service call with every task it ended (a bulk close passes its whole set). Registering the same
    name again replaces the receiver (ready() may run twice in tests)."""
    _tasks_ended[name] = receiver


def tasks_ended(task_ids: Iterable[int], now: datetime) -> None:
    ids = list(task_ids)
    if not ids:
        return
    for receiver in _tasks_ended.values():
        receiver(task_ids=ids, now=now)
