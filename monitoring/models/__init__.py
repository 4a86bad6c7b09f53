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

__all__ = [
    "CheckIn",
    "CheckInChannel",
    "MonitoringAlert",
    "MonitoringAlertKind",
    "MonitoringOrigin",
    "MonitoringPeriod",
    "PeriodState",
    "SampleDue",
    "SampleState",
    "Symptom",
]
