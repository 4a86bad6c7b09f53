"""Hooks through which the apps built on reviews (monitoring) follow the expert's decisions, without
reviews importing them (dependencies point one way: notices → monitoring → reviews → tasks).

A receiver is registered in the upper app's `AppConfig.ready()` and called inside the transaction of
the decision, so its writes commit or roll back with it. Registering a name again replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

DisposalApproved = Callable[..., object]

_disposal_approved: dict[str, DisposalApproved] = {}


def on_disposal_approved(name: str, receiver: DisposalApproved) -> None:
    """`receiver(disposal_ids=[...], now=...)`: disposal proposals written with an approval (the
    monitoring app starts the person's monitoring period from those with a measure)."""
    _disposal_approved[name] = receiver


def disposal_approved(disposal_ids: Iterable[int], *, now: datetime) -> None:
    ids = list(disposal_ids)
    if not ids:
        return
    for receiver in _disposal_approved.values():
        receiver(disposal_ids=ids, now=now)
