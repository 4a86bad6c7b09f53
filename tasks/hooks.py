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


# Further clocks of the apps built on tasks (check-ins, supervision orders), swept with the task clocks:
# by the every-minute beat job and by `manage.py sweep_deadlines [--now]`.
ClockSweep = Callable[..., dict[str, int]]

_clock_sweeps: dict[str, ClockSweep] = {}


def register_clock_sweep(name: str, sweep: ClockSweep) -> None:
    """`sweep(now=...)` does one complete, idempotent sweep of its clocks as of `now` (safe to run twice
    at the same time) and returns counts to report, e.g. {"alerts": 3, "notifications": 5}."""
    _clock_sweeps[name] = sweep


def run_clock_sweeps(now: datetime) -> dict[str, dict[str, int]]:
    return {name: sweep(now=now) for name, sweep in _clock_sweeps.items()}


# A returnee registration completed by the field team (the task's `registered_at` set).
RegistrationCompleted = Callable[..., object]

_registration_completed: dict[str, RegistrationCompleted] = {}


def on_registration_completed(name: str, receiver: RegistrationCompleted) -> None:
    """`receiver(task_ids=[...], now=...)`, inside the transaction that completed the registrations."""
    _registration_completed[name] = receiver


def registration_completed(task_ids: Iterable[int], now: datetime) -> None:
    ids = list(task_ids)
    if not ids:
        return
    for receiver in _registration_completed.values():
        receiver(task_ids=ids, now=now)


# Sections the upper apps add to the task page (tasks/task_detail.html), e.g. the task's monitoring periods
# and tests: `provider(task=..., user=...)` returns {"template": ..., **context} or None (nothing to show).
TaskPageSection = Callable[..., dict[str, Any] | None]

_task_page_sections: dict[str, TaskPageSection] = {}


def provide_task_page_section(name: str, provider: TaskPageSection) -> None:
    _task_page_sections[name] = provider


def task_page_sections(task: object, user: object) -> list[dict[str, Any]]:
    sections = []
    for provider in _task_page_sections.values():
        section = provider(task=task, user=user)
        if section:
            sections.append(section)
    return sections


# Test results typed into tasks by the field team (a positive one raises the monitoring app's alarm).
TestResultsRecorded = Callable[..., object]

_test_results: dict[str, TestResultsRecorded] = {}


def on_test_results(name: str, receiver: TestResultsRecorded) -> None:
    """`receiver(test_ids=[...], now=...)`, inside the transaction that recorded the results."""
    _test_results[name] = receiver


def field_test_results(test_ids: Iterable[int], now: datetime) -> None:
    ids = list(test_ids)
    if not ids:
        return
    for receiver in _test_results.values():
        receiver(test_ids=ids, now=now)
