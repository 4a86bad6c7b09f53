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
from tasks import validation as v
from tasks.blind_index import Rehashed, document_text, rehash_person_phone, rehash_rows
from tasks.crypto import decrypt, rotate_columns
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


def _rehash_lab_results(model, *, batch_size: int, log) -> Rehashed:
    """The identity a lab gave, hashed as monitoring/services/labs.py hashes it. A result does not store
    the document type its number was sent with: its ID hash is recomputed with the type of the person
    it was matched to when that person holds the same number, else emptied (reported). Nothing matches
    on a stored result's hashes (a result is matched when it arrives, or by hand in the queue), so an
    emptied hash costs nothing but the record of it."""
    table = model._meta.db_table

    def compute(row: tuple, result: Rehashed):
        number, phone, name = decrypt(row[4]), decrypt(row[5]), row[6]
        id_hash = ""
        if number:
            text = document_text(row[7], number) if row[8] and decrypt(row[8]) == number else None
            if text:
                id_hash = v.id_number_hash(text)
            elif row[1]:
                result.note(
                    "id_number_hash emptied: the document type is not stored (result not matched to a person holding this number)"
                )
        return (
            id_hash,
            v.phone_hash(phone) if phone else "",
            v.person_key(phone=phone, name=name) if phone and name else "",
        )

    return rehash_rows(
        table,
        select=f"""SELECT r.id, r.id_number_hash, r.phone_hash, r.phone_name_key, r.id_number, r.phone, r.name,
                          p.id_type, p.id_number
                   FROM {table} r LEFT JOIN tasks_person p ON p.id = r.person_id
                   WHERE r.id > %(after)s ORDER BY r.id LIMIT %(limit)s""",
        columns=["id_number_hash", "phone_hash", "phone_name_key"],
        compute=compute,
        batch_size=batch_size,
        log=log,
    )


def _rehash_checkin_sms(model, *, batch_size: int, log) -> Rehashed:
    # The number the reminder went to is not stored, only its hash (copied from the person's at queueing,
    # notices/checkin_sms.py): recomputed from the person's current phone.
    return rehash_person_phone(
        model,
        person_join=f"""JOIN {MonitoringPeriod._meta.db_table} mp ON mp.id = t.period_id
                        LEFT JOIN tasks_person p ON p.id = mp.person_id""",
        batch_size=batch_size,
        log=log,
        what="check-in reminder SMS",
    )


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
        CheckInSms,
        where=of_periods,
        clear=["phone_hash", "last_error"],
        counter="field_records",
        rehash=_rehash_checkin_sms,
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
        rehash=_rehash_lab_results,
    )
    lifecycle.register(
        CaseStatusChange, where="person_id IN ({persons})", clear=["reason"], counter="field_records"
    )
