"""The personal data of health monitoring, declared to the lifecycle registry of the base app
(tasks/lifecycle.py, docs/lifecycle.md); registered from the monitoring AppConfig.ready().

The purge blanks where the person said they were and every free text; temperatures, symptoms, days and
states stay: the statistics (measure execution rate, abnormal counts) need them, not who it was.
"""

from __future__ import annotations

from monitoring.models import (
    CaseStatusChange,
    CheckIn,
    CheckInSms,
    LabResult,
    MonitoringAlert,
    MonitoringPeriod,
    SampleDue,
)
from tasks import lifecycle
from tasks.crypto import rotate_columns
from tasks.lifecycle import SweepScope


def _sweep_unmatched_results(scope: SweepScope) -> int:
    """Results never matched to a person (rejected, or still waiting) past the retention period: no
    person's purge reaches them, so they go by age, identity and all."""
    from django.db.models import Q

    old = LabResult.objects.filter(person__isnull=True, received_at__lt=scope.cutoff).filter(
        Q(match_state="rejected") | Q(match_state="unmatched")
    )
    if scope.dry_run:
        return old.count()
    return old.delete()[0]


def register() -> None:
    of_periods = (
        f"period_id IN (SELECT id FROM {MonitoringPeriod._meta.db_table} WHERE person_id IN ({{persons}}))"
    )
    lifecycle.register(
        MonitoringPeriod,
        where="person_id IN ({persons})",
        clear=["note", "link_token_hash"],
        counter="field_records",
    )
    lifecycle.register(CheckIn, where=of_periods, clear=["location", "note"], counter="field_records")
    lifecycle.register(MonitoringAlert, exempt="kinds, days and times of clock alerts; no person's data")
    lifecycle.register(SampleDue, exempt="schedule days, dates and results; no person's data")
    # The keyed hash of the number a reminder went to matches an SMS reply: blanked with the person.
    lifecycle.register(
        CheckInSms, where=of_periods, clear=["phone_hash", "last_error"], counter="field_records"
    )
    # A lab result keeps its lab, sample, dates and result (the statistics); the identity the lab gave
    # goes with the person's data. A result never matched has no person to purge it with.
    lifecycle.register(
        LabResult,
        where="person_id IN ({persons})",
        clear=[
            "id_number",
            "id_number_hash",
            "phone",
            "phone_hash",
            "name",
            "phone_name_key",
            "rejection_reason",
        ],
        counter="field_records",
        reencrypt=rotate_columns,
        sweep=_sweep_unmatched_results,
    )
    lifecycle.register(
        CaseStatusChange, where="person_id IN ({persons})", clear=["reason"], counter="field_records"
    )
