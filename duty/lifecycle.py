"""The duty app's records, declared to the lifecycle registry of the base app (tasks/lifecycle.py)."""

from __future__ import annotations

from duty.models import Handover, ShiftSwap
from tasks import lifecycle


def register() -> None:
    lifecycle.register(
        Handover,
        exempt="staff's working notes on a shift and counts and ids of tasks; no person's data is copied in",
    )
    lifecycle.register(ShiftSwap, exempt="why two staff exchanged shifts; about staff, not traced persons")
