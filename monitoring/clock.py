"""The check-in clock of a monitoring period (docs/monitoring.md).

Each day D of the period the person is due one check-in by CHECKIN_DUE_HOUR (local time). If none has
come for D:

* at D's due hour: a reminder to the person and the sub-unit (bit 1 of `checkin_alerts`);
* CHECKIN_GRACE_HOURS later: the sub-unit leader (bit 2);
* at the next day's due hour: the duty desk (bit 4), and D counts as missed: `consecutive_misses` + 1,
  the clock moves on to D + 1; LOST_CONTACT_MISSES consecutive misses mark the person lost contact.

A check-in for D (on day D, at any hour) ends D's clock at once and resets the misses. The service
(monitoring/services/checkins.py) and the sweep (monitoring/sweep.py) both read the moments from here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

REMINDER_BIT = 1
LEADER_BIT = 2
DESK_BIT = 4
ALL_BITS = REMINDER_BIT | LEADER_BIT | DESK_BIT


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def due_moment(day: date) -> datetime:
    """The moment day `day`'s check-in is due: CHECKIN_DUE_HOUR on that day, local time."""
    return timezone.make_aware(datetime.combine(day, time(hour=settings.CHECKIN_DUE_HOUR)))


def alert_moments(day: date) -> dict[int, datetime]:
    due = due_moment(day)
    return {
        REMINDER_BIT: due,
        LEADER_BIT: due + timedelta(hours=settings.CHECKIN_GRACE_HOURS),
        DESK_BIT: due_moment(day + timedelta(days=1)),
    }


def next_moment(day: date | None, alerts: int) -> datetime | None:
    """The next moment the sweep must look at a period awaiting `day`'s check-in with `alerts` sent."""
    if day is None:
        return None
    pending = [moment for bit, moment in alert_moments(day).items() if not alerts & bit]
    return min(pending) if pending else None


def first_due_day(starts_on: date, now: datetime) -> date:
    """The first day a check-in is due: the first day of the period, unless the period starts after
    that day's due hour (a person registered in the afternoon is first due the next morning)."""
    today = local_day(now)
    if starts_on > today:
        return starts_on
    if starts_on == today and now >= due_moment(today):
        return today + timedelta(days=1)
    return max(starts_on, today)


def is_abnormal(temperature: object, symptoms: list[str] | tuple[str, ...]) -> bool:
    """Abnormal: a temperature at or above CHECKIN_FEVER_TENTHS / 10 °C, or any symptom."""
    if symptoms:
        return True
    if temperature is None:
        return False
    return round(float(str(temperature)) * 10) >= settings.CHECKIN_FEVER_TENTHS
