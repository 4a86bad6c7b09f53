"""Hooks through which the apps built on monitoring (notices) follow it without monitoring importing them.

Receivers are registered in the upper app's `AppConfig.ready()` and called inside the transaction of
the change, so their writes commit or roll back with it. Registering a name again replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Receiver = Callable[..., object]

_person_reminders: dict[str, Receiver] = {}
_released: dict[str, Receiver] = {}


def on_person_reminders(name: str, receiver: Receiver) -> None:
    """`receiver(period_ids=[...], day=date, now=...)`: the check-in clock reminds these persons of the
    day's check-in (the notices app sends them an SMS with their check-in link)."""
    _person_reminders[name] = receiver


def person_reminders(period_ids: list[int], *, day: object, now: datetime) -> None:
    if period_ids:
        for receiver in _person_reminders.values():
            receiver(period_ids=period_ids, day=day, now=now)


def on_released(name: str, receiver: Receiver) -> None:
    """`receiver(period_ids=[...], now=..., notify_person=bool)`: persons released from monitoring (the
    notices app may push them a release notice)."""
    _released[name] = receiver


def released(period_ids: list[int], *, now: datetime, notify_person: bool) -> None:
    if period_ids:
        for receiver in _released.values():
            receiver(period_ids=period_ids, now=now, notify_person=notify_person)
