from .periods import (
    CheckIn,
    CheckInChannel,
    MonitoringAlert,
    MonitoringAlertKind,
    MonitoringOrigin,
    MonitoringPeriod,
    PeriodState,
    SampleDue,
    SampleState,
    Symptom,
)
from .reminders import CheckInSms

__all__ = [
    "CheckIn",
    "CheckInChannel",
    "CheckInSms",
    "MonitoringAlert",
    "MonitoringAlertKind",
    "MonitoringOrigin",
    "MonitoringPeriod",
    "PeriodState",
    "SampleDue",
    "SampleState",
    "Symptom",
]
