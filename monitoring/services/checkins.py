"""Daily check-ins: three ways in (the sub-unit's phone, the person's link, an SMS reply), one record.

`record_checkin` is the only writer of CheckIn rows. It locks the period, answers a resent
`idempotency_key` with the check-in already stored, validates every field (errors name the field), and
moves the period's check-in clock (monitoring/clock.py) on in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..clock import is_abnormal, local_day, next_moment
from ..models import CheckIn, CheckInChannel, MonitoringPeriod, PeriodState, Symptom
from ..models.periods import OPEN_STATES


@dataclass(frozen=True)
class CheckInResult:
    checkin: CheckIn
    created: bool


def _temperature(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationError({"temperature": _("must be a number of degrees Celsius, e.g. 36.5")}) from None
    if not Decimal("34") <= number <= Decimal("43"):
        raise ValidationError({"temperature": _("must be between 34.0 and 43.0 °C")})
    return number


def _symptoms(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValidationError({"symptoms": _("must be a list of symptoms")})
    known = set(Symptom.values)
    unknown = [str(item) for item in value if item not in known]
    if unknown:
        raise ValidationError(
            {
                "symptoms": _("unknown symptom %(names)s; known: %(known)s")
                % {"names": ", ".join(unknown), "known": ", ".join(Symptom.values)}
            }
        )
    return sorted(set(value), key=Symptom.values.index)


def _key(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError({"idempotency_key": _("must be a UUID")}) from None


def record_checkin(
    period: MonitoringPeriod | int,
    *,
    channel: str,
    temperature: Any = None,
    symptoms: Any = None,
    location: str = "",
    note: str = "",
    by: Any = None,
    idempotency_key: Any = None,
    now: datetime | None = None,
) -> CheckInResult:
    """Record today's check-in of `period` (today in local time). A resent `idempotency_key` returns the
    stored check-in with created=False; a key already used for another period is refused."""
    now = now or timezone.now()
    if channel not in CheckInChannel.values:
        raise ValidationError({"channel": _("unknown channel")})
    key = _key(idempotency_key)
    symptom_list = _symptoms(symptoms)
    values: dict[str, Any] = {
        "temperature": _temperature(temperature),
        "symptoms": symptom_list,
        "location": str(location or "").strip()[:200],
        "note": str(note or "").strip()[:2000],
    }
    period_id = period.pk if isinstance(period, MonitoringPeriod) else int(period)
    with transaction.atomic():
        locked = MonitoringPeriod.objects.select_for_update().get(pk=period_id)
        if key is not None:
            stored = CheckIn.objects.filter(idempotency_key=key).first()
            if stored is not None:
                if stored.period_id != locked.pk:
                    raise ValidationError(
                        {"idempotency_key": _("this key was already used for another person's check-in")}
                    )
                return CheckInResult(stored, created=False)
        day = local_day(now)
        if locked.state not in (*OPEN_STATES, PeriodState.LOST_CONTACT):
            raise ValidationError({"period": _("the monitoring has ended: the person was released")})
        if day < locked.starts_on:
            raise ValidationError(
                {"period": _("the monitoring starts on %(day)s") % {"day": locked.starts_on}}
            )
        if day > locked.ends_on:
            raise ValidationError({"period": _("the monitoring ended on %(day)s") % {"day": locked.ends_on}})
        abnormal = is_abnormal(values["temperature"], symptom_list)
        checkin = CheckIn.objects.create(
            period=locked,
            day=day,
            channel=channel,
            abnormal=abnormal,
            recorded_by=by if getattr(by, "pk", None) else None,
            recorded_at=now,
            idempotency_key=key,
            **values,
        )
        _advance_clock(locked, day, now)
        if abnormal:
            from .alerts import checkin_abnormal

            checkin_abnormal(locked, checkin, now=now)
        return CheckInResult(checkin, created=True)


def _advance_clock(period: MonitoringPeriod, day: date, now: datetime) -> None:
    """A check-in for `day` ends that day's clock; a person lost contact who checks in is monitored
    again (the misses start over)."""
    fields = ["last_checkin_at", "consecutive_misses", "updated_at"]
    period.last_checkin_at = now
    period.consecutive_misses = 0
    period.updated_at = now
    if period.state == PeriodState.LOST_CONTACT:
        period.state = PeriodState.RUNNING
        period.state_changed_at = now
        fields += ["state", "state_changed_at"]
    if period.due_day is None or period.due_day <= day:
        following = day + timedelta(days=1)
        period.due_day = following if following <= period.ends_on else None
        period.checkin_alerts = 0
        period.next_due_at = next_moment(period.due_day, 0)
        fields += ["due_day", "checkin_alerts", "next_due_at"]
    period.save(update_fields=fields)
