"""Alerts of monitoring: recorded once each (MonitoringAlert's unique period, kind and day)."""

from __future__ import annotations

from datetime import datetime

from ..models import CheckIn, MonitoringAlert, MonitoringAlertKind, MonitoringPeriod


def checkin_abnormal(period: MonitoringPeriod, checkin: CheckIn, *, now: datetime) -> MonitoringAlert | None:
    """An abnormal check-in: the period holds an open abnormality (no release until it is cleared) and
    one alert per day is recorded. Returns the new alert, or None when the day already had one."""
    if not period.abnormal_open:
        MonitoringPeriod.objects.filter(pk=period.pk).update(abnormal_open=True, updated_at=now)
        period.abnormal_open = True
    alert, created = MonitoringAlert.objects.get_or_create(
        period=period,
        kind=MonitoringAlertKind.ABNORMAL,
        day=checkin.day,
        defaults={"checkin": checkin, "created_at": now},
    )
    return alert if created else None
