"""The personal data of duty operations, declared to the lifecycle registry of the base app
(tasks/lifecycle.py, docs/lifecycle.md); registered from the duty AppConfig.ready().

Supervision orders are staff work, but their free text (the instructions and the thread's replies and
reasons) may name the persons of the attached tasks: the purge of those persons blanks it. Titles,
deadlines, states and times stay: the statistics of on-time answers need them, not who it was about.
"""

from __future__ import annotations

from duty.models import Handover, ShiftSwap, SupervisionOrder, SupervisionOrderEvent
from tasks import lifecycle


def register() -> None:
    attached = SupervisionOrder.tasks.through._meta.db_table
    of_purged_tasks = f"SELECT supervisionorder_id FROM {attached} WHERE tracingtask_id IN ({{tasks}})"
    lifecycle.register(
        SupervisionOrder,
        where=f"id IN ({of_purged_tasks})",
        clear=["text"],
        counter="field_records",
    )
    lifecycle.register(
        SupervisionOrderEvent,
        where=f"order_id IN ({of_purged_tasks})",
        clear=["text"],
        counter="field_records",
    )
    lifecycle.register(
        Handover,
        exempt="staff's working notes on a shift and counts and ids of tasks; no person's data is copied in",
    )
    lifecycle.register(ShiftSwap, exempt="why two staff exchanged shifts; about staff, not traced persons")
