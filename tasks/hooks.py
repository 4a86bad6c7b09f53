"""Hooks through which the apps built on `tasks` follow what happens to tasks, without `tasks` importing
them (dependencies point one way: reports → notices → reviews → tasks).

An upper app registers a receiver in its `AppConfig.ready()`; the service that changes the state calls
the hook inside its transaction, so a receiver's writes commit or roll back with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

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


# The expert's side of returned work, shown on the field pages (the reviews app provides it).
ReturnReasons = Callable[[list[int]], dict[int, dict]]
ReviewComments = Callable[..., tuple[list, dict[tuple[str, int], list]]]

_review_feedback: dict[str, Callable[..., Any]] = {}


def provide_review_feedback(*, return_reasons: ReturnReasons, review_comments: ReviewComments) -> None:
    """`return_reasons(task_ids)` -> {task id: {"reasons", "at", "by"}} of each task's latest return;
    `review_comments(task)` -> (comments on the task as a whole, {(model name, entry id): comments})."""
    _review_feedback["return_reasons"] = return_reasons
    _review_feedback["review_comments"] = review_comments


def return_reasons(task_ids: list[int]) -> dict[int, dict]:
    provider = _review_feedback.get("return_reasons")
    return provider(task_ids) if provider and task_ids else {}


def review_comments(task: object) -> tuple[list, dict[tuple[str, int], list]]:
    provider = _review_feedback.get("review_comments")
    return provider(task) if provider else ([], {})
