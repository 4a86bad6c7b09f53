"""Retention: personal data is anonymised when its retention period ends; statistics stay
(docs/lifecycle.md).

A person is purged when every one of its tasks ended (closed, cancelled or merged) more than
RETENTION_DAYS ago and none of them is on legal hold. "Ended" is `closed_at`, or `updated_at` for a task
without one.

This module owns the selection, the lock and the order; WHAT is purged is declared by each app to the
lifecycle registry (tasks/lifecycle.py): tasks/personal_data.py for the base app (persons, leads, tasks,
field records, transitions, transfers, notifications, the access log's free text, rejected intake rows,
uploaded files), and the apps built on tasks for theirs (review comments and findings, notices and
feedback, report snapshots). Each step, in one transaction:

1. selects up to BATCH_SIZE due persons into the temporary table `purge_person_ids`, and their tasks
   into `purge_task_ids`;
2. runs every registration's purge in the order registered (tasks first, then the apps in
   INSTALLED_APPS order), each selecting its rows from those two tables, never from values another
   purge changes;
3. with each, removes the cleared fields from django-auditlog's change history of the same rows.

The person's `person_key` becomes `purged:<id>` (so a later lead for the same person starts a new
Person, and the row is recognised as done: the purge is idempotent).

Apart from the persons, every run (also a dry run, which only counts) runs the registered sweeps: data
deleted by age rather than by person (LeadRejection rows received more than RETENTION_DAYS ago,
uploaded files of previews nobody confirmed).

Safe to run twice at once: a PostgreSQL advisory lock lets one run work and the other return None.
Every run (also a dry run) is a PurgeRun row with its counts, in total per kind (its columns) and per
registration (`counts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import lifecycle
from .lifecycle import PurgeScope, SweepScope
from .models import PurgeRun, TaskStatus
from .personal_data import PURGED_PREFIX

log = logging.getLogger(__name__)

# pg_advisory_lock key of the purge ("TCPURGE" as digits, any constant unique to this job).
LOCK_KEY = 7_043_908_557
ENDED_STATUSES = [TaskStatus.CLOSED.value, TaskStatus.CANCELLED.value, TaskStatus.MERGED.value]
BATCH_SIZE = 5_000
COUNTERS = ("persons", "leads", "tasks", "log_entries", "field_records", "report_versions", "notices")


@dataclass
class StepResult:
    persons: int = 0
    leads: int = 0
    tasks: int = 0
    log_entries: int = 0
    field_records: int = 0
    report_versions: int = 0
    notices: int = 0
    rejections: int = 0
    # rows changed per registration (model label), and change-history rows as "auditlog.LogEntry"
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, counter: str, label: str, rows: int) -> None:
        if counter:
            setattr(self, counter, getattr(self, counter) + rows)
        if rows:
            self.counts[label] = self.counts.get(label, 0) + rows


def _tables() -> dict[str, str]:
    from .models import Person, TracingTask

    return {"person": Person._meta.db_table, "task": TracingTask._meta.db_table}


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


HISTORY = "auditlog.LogEntry"


@transaction.atomic
def purge_step(cutoff: datetime, *, limit: int = BATCH_SIZE) -> StepResult:
    """Anonymise up to `limit` due persons and every copy of their data the registry knows of, in one
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
        cursor.execute("DROP TABLE IF EXISTS purge_task_ids")
        cursor.execute("CREATE TEMP TABLE purge_task_ids (id bigint PRIMARY KEY) ON COMMIT DROP")
        cursor.execute(
            f"INSERT INTO purge_task_ids SELECT id FROM {t['task']} WHERE person_id IN ({lifecycle.PERSONS})"
        )
        scope = PurgeScope(cursor=cursor, cutoff=cutoff)
        for registration in lifecycle.registrations():
            if not registration.where:
                continue
            result.add(registration.counter, registration.label, lifecycle.run_purge(scope, registration))
            result.add("log_entries", HISTORY, lifecycle.scrub_history(scope, registration))
    return result


def run_sweeps(*, now: datetime, cutoff: datetime, dry_run: bool) -> StepResult:
    """Every registered sweep (rows and files deleted by age). Counts in the result's columns and per
    registration; with `dry_run`, counts only."""
    result = StepResult()
    scope = SweepScope(now=now, cutoff=cutoff, dry_run=dry_run)
    for registration in lifecycle.registrations():
        if registration.sweep is not None:
            result.add(registration.counter, registration.label, registration.sweep(scope))
    for item in lifecycle.file_sweeps():
        result.add(item.counter, item.name, item.sweep(scope))
    return result


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
        swept = run_sweeps(now=now, cutoff=cutoff, dry_run=dry_run)
        run.rejections = swept.rejections
        counts = dict(swept.counts)
        if dry_run:
            run.persons = due
        else:
            while True:
                step = purge_step(cutoff)
                if not step.persons:
                    break
                for name in COUNTERS:
                    setattr(run, name, getattr(run, name) + getattr(step, name))
                for label, rows in step.counts.items():
                    counts[label] = counts.get(label, 0) + rows
        run.counts = counts
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
