"""The clock of notices: the quiet hours (NOTICE_QUIET_START–NOTICE_QUIET_END, local time) and the push
window. A normal notice is never pushed nor reminded in the quiet hours; an urgent one is, night or day."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    pass


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_bounds() -> tuple[time, time]:
    return _hhmm(settings.NOTICE_QUIET_START), _hhmm(settings.NOTICE_QUIET_END)


def in_quiet_hours(moment: datetime) -> bool:
    start, end = quiet_bounds()
    local = timezone.localtime(moment).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _at(moment: datetime, clock: time, *, days: int = 0) -> datetime:
    local = timezone.localtime(moment)
    day = local.date() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, clock), local.tzinfo)


def quiet_end_after(moment: datetime) -> datetime:
    """The end of the quiet period `moment` is in (or the next one)."""
    _start, end = quiet_bounds()
    candidate = _at(moment, end)
    return candidate if candidate > moment else _at(moment, end, days=1)


def next_quiet_start(moment: datetime) -> datetime:
    start, _end = quiet_bounds()
    candidate = _at(moment, start)
    return candidate if candidate > moment else _at(moment, start, days=1)


def out_of_quiet_hours(moment: datetime) -> datetime:
    return quiet_end_after(moment) if in_quiet_hours(moment) else moment


def add_daytime(start: datetime, minutes: int) -> datetime:
    """`start` + `minutes`, the clock paused over the quiet hours."""
    remaining = timedelta(minutes=minutes)
    at = out_of_quiet_hours(start)
    for _ in range(60):
        boundary = next_quiet_start(at)
        if at + remaining <= boundary:
            return at + remaining
        remaining -= boundary - at
        at = quiet_end_after(boundary)
    return at + remaining


def push_schedule(approved_at: datetime, urgent: bool) -> tuple[datetime, datetime]:
    """(push_after, push_due) of a notice approved at `approved_at`.

    Urgent: at once, due within NOTICE_URGENT_PUSH_MINUTES (30), night or day. Normal: due within
    NOTICE_PUSH_MINUTES (120) of daytime (the clock pauses over the quiet hours, 22:00–07:00); never
    pushed in the quiet hours, nor in the NOTICE_QUIET_MARGIN_MINUTES (60) before them, so that a
    person told to act is not told at 21:59 and reminded at night: a notice approved at 21:30 waits
    for 07:00."""
    if urgent:
        return approved_at, approved_at + timedelta(minutes=settings.NOTICE_URGENT_PUSH_MINUTES)
    push_after = approved_at
    margin = timedelta(minutes=settings.NOTICE_QUIET_MARGIN_MINUTES)
    if in_quiet_hours(approved_at) or next_quiet_start(approved_at) - approved_at < margin:
        push_after = quiet_end_after(
            approved_at if in_quiet_hours(approved_at) else next_quiet_start(approved_at)
        )
    push_due = add_daytime(approved_at, settings.NOTICE_PUSH_MINUTES)
    return push_after, max(push_due, push_after)


def later(now: datetime, minutes: int, urgent: bool) -> datetime:
    """now + minutes; for a normal notice moved out of the quiet hours."""
    moment = now + timedelta(minutes=minutes)
    return moment if urgent else out_of_quiet_hours(moment)
