from .labs import CaseStatusChange, LabResult, LabResultValue, MatchState
from .periods import (
    CheckIn,
    CheckInChannel,
    MonitoringAlert,
    MonitoringAlertKind,
    MonitoringOrigin,
    MonitoringPeriod,
    PeriodClock,
    PeriodState,
    SampleDue,
    SampleState,
    Symptom,
)
from .reminders import CheckInSms

__all__ = [
    "CaseStatusChange",
    "LabResult",
    "LabResultValue",
    "MatchState",
    "CheckIn",
    "CheckInChannel",
    "CheckInSms",
    "MonitoringAlert",
    "MonitoringAlertKind",
    "MonitoringOrigin",
    "MonitoringPeriod",
    "PeriodClock",
    "PeriodState",
    "SampleDue",
    "SampleState",
    "Symptom",
]
