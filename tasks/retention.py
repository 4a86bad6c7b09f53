"""Retention (issue 9): personal data is anonymised when its retention period ends; statistics stay.

A person is purged when every one of its tasks ended (closed, cancelled or merged) more than
RETENTION_DAYS ago and none of them is on legal hold. "Ended" is `closed_at`, or `updated_at` for a task
without one. Purging clears, in set-based UPDATEs:

* the Person: name, identity number, phone, their keyed hashes; `person_key` becomes `purged:<id>` (so a
  later lead for the same person starts a new Person instead of re-attaching to the emptied row, and
  the row is recognised as done: the purge is idempotent);
* the person's Leads: name, identity number, phone, hashes, address, reason, the raw source fields;
* the person's Tasks: address and the free-text "why unresolved" (it may quote an address); the task
  rows themselves, with status, division, clocks and dates, stay for the statistics;
* django-auditlog's change history of those rows: the personal fields are removed from `changes`, the
  text rendering is emptied and a person's `object_repr` (its name) becomes `#<id>`;
* the field records of those tasks (tasks/models/fieldwork.py), which name and locate people:
  CloseContact name, ID number, phone, place of last contact and address (the contact's relation,
  time and division stay); TrajectoryEntry address, companions, activity, seat and coordinates (the
  place name, times, division and transport stay: they feed the risk-area statistics); RadiusControl
  address, quarantine site (a centralised quarantine keeps the placeholder "-", which its CHECK
  constraint needs), coordinates and note; ContactAttempt and TestResult notes;
* the frozen report versions of those tasks (reports.ReportVersion.data): the person's name, ID number,
  phone and address, the contacts' name, ID number, phone and place, the trajectory's address,
  companions and activity, the radius controls' site and note;
* the notices sent to the person (reviews.Notice): the text and the values it was rendered from (the
  masked name, the measure and its dates, the county) and the hash of the number it went to; the
  person's written feedback and the desk's answer to it (an answered feedback keeps the placeholder
  "-", which its CHECK constraint needs). Title, category, states and times stay.

Apart from the persons, every run (not a dry run) deletes the LeadRejection rows received more than
RETENTION_DAYS ago: they hold the (encrypted) raw rows of people who never became a task.

The access log keeps ids only and is not touched.

Safe to run twice at once: a PostgreSQL advisory lock lets one run work and the other return None.
Every run (also a dry run) is a PurgeRun row with its counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import PurgeRun, TaskStatus

log = logging.getLogger(__name__)

# pg_advisory_lock key of the purge ("TCPURGE" as digits, any constant unique to this job).
LOCK_KEY = 7_043_908_557
ENDED_STATUSES = [TaskStatus.CLOSED.value, TaskStatus.CANCELLED.value, TaskStatus.MERGED.value]
BATCH_SIZE = 5_000
PURGED_PREFIX = "purged:"
PERSON_LOG_FIELDS = ["name", "id_number", "id_number_hash", "phone", "phone_hash", "person_key"]
TASK_LOG_FIELDS = ["address", "unresolved_reason"]


@dataclass
class StepResult:
    persons: int = 0
    leads: int = 0
    tasks: int = 0
    log_entries: int = 0
    field_records: int = 0
    report_versions: int = 0
    notices: int = 0


def _tables():
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from notices.models import Notice, NoticeFeedback
    from reports.models import ReportVersion

    from .models import (
        CloseContact,
        ContactAttempt,
        Lead,
        LeadRejection,
        Person,
        RadiusControl,
        TestResult,
        TracingTask,
        TrajectoryEntry,
    )

    ct = ContentType.objects.get_for_models(Person, TracingTask)
    return {
        "contact": CloseContact._meta.db_table,
        "attempt": ContactAttempt._meta.db_table,
        "radius": RadiusControl._meta.db_table,
        "test": TestResult._meta.db_table,
        "trajectory": TrajectoryEntry._meta.db_table,
        "report": ReportVersion._meta.db_table,
        "rejection": LeadRejection._meta.db_table,
        "person": Person._meta.db_table,
        "task": TracingTask._meta.db_table,
        "lead": Lead._meta.db_table,
        "notice": Notice._meta.db_table,
        "feedback": NoticeFeedback._meta.db_table,
        "logentry": LogEntry._meta.db_table,
        "person_ct": ct[Person].pk,
        "task_ct": ct[TracingTask].pk,
    }


def _eligible_sql(t: dict, *, held: bool = False) -> str:
    """Persons whose tasks all ended before the cut-off (params: ended statuses, cutoff). With `held`,
    those that would be, but for a legal hold."""
    hold = "" if held else "OR t.legal_hold"
    extra = (
        f"AND EXISTS (SELECT 1 FROM {t['task']} t WHERE t.person_id = p.id AND t.legal_hold)" if held else ""
    )
    return f"""
        SELECT p.id FROM {t["person"]} p
        WHERE p.person_key NOT LIKE '{PURGED_PREFIX}%%'
          AND EXISTS (SELECT 1 FROM {t["task"]} t WHERE t.person_id = p.id)
          AND NOT EXISTS (
              SELECT 1 FROM {t["task"]} t
              WHERE t.person_id = p.id
                AND (t.status <> ALL(%s) {hold} OR COALESCE(t.closed_at, t.updated_at) >= %s)
          )
          {extra}
    """


def count_eligible(cutoff: datetime) -> tuple[int, int]:
    """(persons due for purging, persons kept only by a legal hold)."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({_eligible_sql(t)}) e", [ENDED_STATUSES, cutoff])
        due = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM ({_eligible_sql(t, held=True)}) e", [ENDED_STATUSES, cutoff])
        held = cursor.fetchone()[0]
    return due, held


@transaction.atomic
def purge_step(cutoff: datetime, *, limit: int = BATCH_SIZE) -> StepResult:
    """Anonymise up to `limit` due persons and their leads, tasks and change history, in one
    transaction. Returns the counts; persons == 0 means nothing was left to do."""
    t = _tables()
    result = StepResult()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS purge_person_ids")
        cursor.execute("CREATE TEMP TABLE purge_person_ids (id bigint PRIMARY KEY) ON COMMIT DROP")
        cursor.execute(
            f"INSERT INTO purge_person_ids {_eligible_sql(t)} ORDER BY 1 LIMIT %s",
            [ENDED_STATUSES, cutoff, limit],
        )
        cursor.execute("SELECT count(*) FROM purge_person_ids")
        if not cursor.fetchone()[0]:
            return result
        cursor.execute(
            f"""UPDATE {t["person"]} SET name = '', id_number = '', id_number_hash = '', phone = '', phone_hash = '',
                    person_key = '{PURGED_PREFIX}' || id
                WHERE id IN (SELECT id FROM purge_person_ids)"""
        )
        result.persons = cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["lead"]} l SET name = '', id_number = '', id_number_hash = '', phone = '', phone_hash = '',
                    address = '', reason = '', payload = '{{}}'::jsonb, person_key = '{PURGED_PREFIX}' || t.person_id
                FROM tasks_leadlink k JOIN {t["task"]} t ON t.id = k.task_id
                WHERE l.id = k.lead_id AND t.person_id IN (SELECT id FROM purge_person_ids)"""
        )
        result.leads = cursor.rowcount
        # Notices: what was written to the person, from their data, and the number (its keyed hash) it
        # went to; then what the person wrote back and the answer, which quote each other.
        cursor.execute(
            f"""UPDATE {t["notice"]} SET text = '', variables = '{{}}'::jsonb, phone_hash = ''
                WHERE person_id IN (SELECT id FROM purge_person_ids)"""
        )
        result.notices = cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["feedback"]} SET text = '', answer = CASE WHEN answer = '' THEN '' ELSE '-' END
                WHERE notice_id IN (SELECT id FROM {t["notice"]} WHERE person_id IN (SELECT id FROM purge_person_ids))"""
        )
        result.notices += cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["task"]} SET address = '', unresolved_reason = ''
                WHERE person_id IN (SELECT id FROM purge_person_ids)"""
        )
        result.tasks = cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["logentry"]} SET changes = changes - %s::text[], changes_text = '', serialized_data = NULL,
                    object_repr = '#' || object_pk
                WHERE content_type_id = %s AND object_id IN (SELECT id FROM purge_person_ids)""",
            [PERSON_LOG_FIELDS, t["person_ct"]],
        )
        result.log_entries = cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["logentry"]} SET changes = changes - %s::text[], changes_text = '', serialized_data = NULL
                WHERE content_type_id = %s
                  AND object_id IN (SELECT id FROM {t["task"]} WHERE person_id IN (SELECT id FROM purge_person_ids))""",
            [TASK_LOG_FIELDS, t["task_ct"]],
        )
        result.log_entries += cursor.rowcount
        # Field records and report snapshots of the purged persons' tasks.
        cursor.execute("DROP TABLE IF EXISTS purge_task_ids")
        cursor.execute(
            f"""CREATE TEMP TABLE purge_task_ids ON COMMIT DROP AS
                SELECT id FROM {t["task"]} WHERE person_id IN (SELECT id FROM purge_person_ids)"""
        )
        in_tasks = "task_id IN (SELECT id FROM purge_task_ids)"
        for sql in (
            f"""UPDATE {t["contact"]} SET name = '', id_number = '', phone = '', last_contact_place = '', address = ''
                WHERE {in_tasks}""",
            f"""UPDATE {t["trajectory"]} SET address = '', companions = '', activity = '', seat = '',
                    latitude = NULL, longitude = NULL
                WHERE {in_tasks}""",
            f"""UPDATE {t["radius"]} SET address = '', note = '', latitude = NULL, longitude = NULL, location_accuracy_m = NULL,
                    quarantine_site = CASE WHEN quarantine_site = '' THEN '' ELSE '-' END
                WHERE {in_tasks}""",
            f"UPDATE {t['attempt']} SET note = '' WHERE {in_tasks}",
            f"UPDATE {t['test']} SET note = '' WHERE {in_tasks}",
        ):
            cursor.execute(sql)
            result.field_records += cursor.rowcount
        cursor.execute(
            f"""UPDATE {t["report"]} v SET data = v.data
                    || jsonb_build_object('person', COALESCE(v.data->'person', '{{}}'::jsonb)
                                          || '{{"name": "", "id_number": "", "phone": "", "address": ""}}'::jsonb)
                    || jsonb_build_object('contacts', {_scrub_array("contacts", '{"name": "", "id_number": "", "phone": "", "place": ""}')})
                    || jsonb_build_object('trajectory', {_scrub_array("trajectory", '{"address": "", "companions": "", "activity": ""}')})
                    || jsonb_build_object('radius', {_scrub_array("radius", '{"site": "", "note": ""}')})
                WHERE {in_tasks}"""
        )
        result.report_versions = cursor.rowcount
    return result


def _scrub_array(key: str, blank: str) -> str:
    """SQL: the snapshot's array `key` with every element's personal keys replaced by `blank` (order kept)."""
    return (
        f"COALESCE((SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object' THEN e || '{blank}'::jsonb ELSE e END ORDER BY n) "
        f"FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v.data->'{key}') = 'array' THEN v.data->'{key}' ELSE '[]'::jsonb END) "
        f"WITH ORDINALITY AS a(e, n)), '[]'::jsonb)"
    )


def purge_rejections(cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete (or, dry, count) the rejected intake rows received before `cutoff`."""
    t = _tables()
    with connection.cursor() as cursor:
        if dry_run:
            cursor.execute(f"SELECT count(*) FROM {t['rejection']} WHERE received_at < %s", [cutoff])
            return cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM {t['rejection']} WHERE received_at < %s", [cutoff])
        return cursor.rowcount


def purge_personal_data(
    *, now: datetime | None = None, dry_run: bool = False, triggered_by: str = ""
) -> PurgeRun | None:
    """Run the purge to the end (in steps of BATCH_SIZE persons). Returns the PurgeRun, or None when
    another run holds the lock."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            log.info("purge_personal_data: another run holds the lock; nothing done")
            return None
    try:
        due, held = count_eligible(cutoff)
        run = PurgeRun.objects.create(
            started_at=timezone.now(),
            cutoff=cutoff,
            retention_days=settings.RETENTION_DAYS,
            dry_run=dry_run,
            held=held,
            triggered_by=triggered_by[:50],
        )
        run.rejections = purge_rejections(cutoff, dry_run=dry_run)
        if dry_run:
            run.persons = due
        else:
            while True:
                step = purge_step(cutoff)
                if not step.persons:
                    break
                run.persons += step.persons
                run.leads += step.leads
                run.tasks += step.tasks
                run.log_entries += step.log_entries
                run.field_records += step.field_records
                run.report_versions += step.report_versions
                run.notices += step.notices
        run.finished_at = timezone.now()
        run.save()
        log.info(
            "purge_personal_data%s: cutoff %s, %d persons, %d leads, %d tasks, %d history entries, %d field records, "
            "%d report versions, %d notices and feedback, %d rejected rows deleted, %d kept by legal hold",
            " (dry run)" if dry_run else "",
            cutoff.isoformat(),
            run.persons,
            run.leads,
            run.tasks,
            run.log_entries,
            run.field_records,
            run.report_versions,
            run.notices,
            run.rejections,
            held,
        )
        return run
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
