"""The three clocks of a tracing task and the one column the sweep reads (`next_alert_at`).

| clock    | started by                     | deadline (`*_due`)                 | stopped by (`*_at`)  |
| -------- | ------------------------------ | ---------------------------------- | -------------------- |
| dispatch | the intake batch (or creation) | batch time + DISPATCH_WINDOW       | dispatched_at        |
| radius   | dispatch                       | dispatched_at + RADIUS_WINDOW      | radius_limited_at    |
| trace    | dispatch                       | dispatched_at + TRACE_WINDOW       | traced_at            |
| rework   | an expert's return (reviews)   | return time + REVIEW_RETURN_WINDOW | rework_done_at       |
| verify   | dispatch of a verification     | dispatched_at + VERIFY_WINDOW      | verified_at          |
| register | dispatch of a registration     | dispatched_at + REGISTER_WINDOW    | registered_at        |

Which clocks dispatch starts depends on the task's kind (KIND_CLOCKS): an investigation gets radius and
trace, a verification verify, a registration register; the dispatch clock is the same for all. A change
of kind (triage escalation at intake, or by hand) stops the old kind's clocks and starts the new kind's
from the moment of the change when the task is already dispatched (`kind_change_cols` in SQL,
`restart_kind_clocks` in Python).

Each running clock has two moments: the warning at CLOCK_WARNING_FRACTION (80 %) of its window, and
the breach at its deadline. `clock_alerts` holds one bit per (clock, level) the sweep has recorded, so
`next_alert_at` = the earliest moment, among running clocks, whose bit is not set — computable from the
row alone: in Python for one task (`compute_next_alert_at`) and in SQL for sets (`next_alert_sql`), the
two kept identical by tests. A clock of a closed, merged, cancelled, approved or reported task does not
run. Moments are compared with `<=`: a clock whose deadline is 10:00:00 is breached at 10:00:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from .models.tracing import TaskKind, TaskStatus

# No clock runs in these states (the work is finished or is no longer this task's).
CLOCKLESS_STATUSES = (
    TaskStatus.APPROVED,
    TaskStatus.REPORTED,
    TaskStatus.CLOSED,
    TaskStatus.MERGED,
    TaskStatus.CANCELLED,
)


@dataclass(frozen=True)
class ClockSpec:
    name: str
    due_field: str
    stop_field: str
    window_setting: str
    warning_bit: int
    breach_bit: int

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=getattr(settings, self.window_setting))

    @property
    def warning_before_due(self) -> timedelta:
        """How long before the deadline the warning fires (20 % of the window by default)."""
        window_seconds = int(self.window.total_seconds())
        return timedelta(seconds=window_seconds - round(window_seconds * settings.CLOCK_WARNING_FRACTION))

    def bit(self, level: str) -> int:
        return self.warning_bit if level == "warning" else self.breach_bit


CLOCKS: tuple[ClockSpec, ...] = (
    ClockSpec("dispatch", "dispatch_due", "dispatched_at", "DISPATCH_WINDOW_MINUTES", 1, 2),
    ClockSpec("radius", "radius_due", "radius_limited_at", "RADIUS_WINDOW_MINUTES", 4, 8),
    ClockSpec("trace", "trace_due", "traced_at", "TRACE_WINDOW_MINUTES", 16, 32),
    ClockSpec("rework", "rework_due", "rework_done_at", "REVIEW_RETURN_WINDOW_MINUTES", 64, 128),
    ClockSpec("verify", "verify_due", "verified_at", "VERIFY_WINDOW_MINUTES", 256, 512),
    ClockSpec("register", "register_due", "registered_at", "REGISTER_WINDOW_MINUTES", 1024, 2048),
)
CLOCK_BY_NAME = {clock.name: clock for clock in CLOCKS}
LEVELS = ("warning", "breach")


# The clocks dispatch starts, per kind of task.
KIND_CLOCKS: dict[str, tuple[str, ...]] = {
    TaskKind.INVESTIGATION: ("radius", "trace"),
    TaskKind.VERIFICATION: ("verify",),
    TaskKind.REGISTRATION: ("register",),
}
DISPATCH_STARTED = ("radius", "trace", "verify", "register")


def dispatch_due_cols(start: str, kind: str, alias: str = "t") -> dict[str, str]:
    """SQL of the due columns dispatch sets: the kind's clocks from `start` (kept when already set, as
    on a re-dispatch after a transfer), the other kinds' left as they are (NULL)."""
    cols = {}
    for name in DISPATCH_STARTED:
        clock = CLOCK_BY_NAME[name]
        kinds = ", ".join(f"'{k}'" for k, names in KIND_CLOCKS.items() if name in names)
        current = f"{alias}.{clock.due_field}"
        cols[clock.due_field] = (
            f"CASE WHEN {kind} IN ({kinds}) THEN COALESCE({current}, {start} + %({name}_window)s) "
            f"ELSE {current} END"
        )
    return cols


def kind_change_cols(new_kind: str, now: str, alias: str = "t") -> dict[str, str]:
    """SQL of the clock columns when a task's kind becomes `new_kind` at `now`: the new kind's clocks
    start at `now` if the task is dispatched (else dispatch starts them), the others stop (due NULL),
    and their alert bits are cleared so the new deadlines warn and breach once each. A milestone already
    met (`*_at`) stays met: its clock does not run again."""
    cols = {}
    mask = 0
    for name in DISPATCH_STARTED:
        clock = CLOCK_BY_NAME[name]
        kinds = ", ".join(f"'{k}'" for k, names in KIND_CLOCKS.items() if name in names)
        mask |= clock.warning_bit | clock.breach_bit
        cols[clock.due_field] = (
            f"CASE WHEN {new_kind} IN ({kinds}) AND {alias}.dispatched_at IS NOT NULL "
            f"THEN {now} + %({name}_window)s END"
        )
    cols["clock_alerts"] = f"({alias}.clock_alerts & {~mask & 0x7FFF})"
    return cols


def restart_kind_clocks(task, now: datetime) -> list[str]:
    """The Python twin of kind_change_cols, on one task; returns the fields it changed."""
    fields = ["clock_alerts"]
    for name in DISPATCH_STARTED:
        clock = CLOCK_BY_NAME[name]
        due = None
        if name in KIND_CLOCKS[task.kind] and task.dispatched_at is not None:
            due = now + clock.window
        setattr(task, clock.due_field, due)
        task.clock_alerts &= ~(clock.warning_bit | clock.breach_bit)
        fields.append(clock.due_field)
    return fields


def clock_runs(task, clock: ClockSpec) -> bool:
    return (
        task.status not in CLOCKLESS_STATUSES
        and getattr(task, clock.due_field) is not None
        and getattr(task, clock.stop_field) is None
    )


def moments(task, clock: ClockSpec) -> dict[str, datetime]:
    due = getattr(task, clock.due_field)
    return {"warning": due - clock.warning_before_due, "breach": due}


def compute_next_alert_at(task) -> datetime | None:
    """The earliest warning or breach moment not yet recorded, among the task's running clocks."""
    pending = []
    for clock in CLOCKS:
        if not clock_runs(task, clock):
            continue
        for level, moment in moments(task, clock).items():
            if not task.clock_alerts & clock.bit(level):
                pending.append(moment)
                break  # the breach is never earlier than the warning
    return min(pending) if pending else None


def clock_windows() -> dict:
    """SQL parameters used by next_alert_sql and the sweep: the warning offsets as intervals."""
    params: dict[str, Any] = {f"{clock.name}_warn": clock.warning_before_due for clock in CLOCKS}
    params.update({f"{clock.name}_window": clock.window for clock in CLOCKS})
    params["clockless"] = [str(s) for s in CLOCKLESS_STATUSES]
    return params


def next_alert_sql(cols: dict[str, str] | None = None, alias: str = "t") -> str:
    """SQL for `next_alert_at` of a row, with named parameters from clock_windows().

    `cols` overrides a column with an expression (in an UPDATE, the SET list sees the old values: pass
    the new ones, e.g. {"status": "'dispatched'", "radius_due": "%(now)s + ..."})."""
    cols = cols or {}

    def col(name: str) -> str:
        return cols.get(name, f"{alias}.{name}")

    parts = []
    for clock in CLOCKS:
        due, stop, alerts = col(clock.due_field), col(clock.stop_field), col("clock_alerts")
        parts.append(
            f"CASE WHEN {due} IS NOT NULL AND {stop} IS NULL THEN "
            f"CASE WHEN ({alerts}) & {clock.warning_bit} = 0 THEN {due} - %({clock.name}_warn)s "
            f"WHEN ({alerts}) & {clock.breach_bit} = 0 THEN {due} END END"
        )
    return f"CASE WHEN {col('status')} = ANY(%(clockless)s) THEN NULL ELSE LEAST({', '.join(parts)}) END"


OVERDUE_VALUES = tuple(clock.name for clock in CLOCKS)


def overdue_q(clock_name: str, now: datetime) -> Q:
    """Tasks whose `clock_name` clock still runs and is past its deadline (breached, not yet met)."""
    clock = CLOCK_BY_NAME[clock_name]
    return Q(**{f"{clock.due_field}__lte": now, f"{clock.stop_field}__isnull": True}) & ~Q(
        status__in=CLOCKLESS_STATUSES
    )


def filter_overdue(queryset: QuerySet, value: str, now: datetime | None = None) -> QuerySet:
    """The `overdue=dispatch|radius|trace|rework|verify|register` filter of GET /api/v1/tasks/ (a comma-separated list means
    any of them). Raises ValueError on an unknown clock name."""
    from django.utils import timezone

    now = now or timezone.now()
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    unknown = [n for n in names if n not in CLOCK_BY_NAME]
    if unknown or not names:
        raise ValueError(f"overdue must be one of {', '.join(OVERDUE_VALUES)}")
    condition = Q()
    for name in names:
        condition |= overdue_q(name, now)
    return queryset.filter(condition)
