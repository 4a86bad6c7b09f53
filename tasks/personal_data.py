"""The personal data the base app holds, declared to the lifecycle registry (tasks/lifecycle.py,
docs/lifecycle.md). Registered from TasksConfig.ready(), before the apps built on tasks register theirs.

What stays after a purge is what the statistics need: the task rows with status, division, clocks and
dates; the relation, time and division of a close contact; the place name, times, division and means of
transport of a trajectory entry; the measure of a radius control.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from . import lifecycle
from .blind_index import rehash_leads, rehash_persons
from .crypto import rotate_columns, rotate_rejections
from .lifecycle import PurgeScope, Registration, SweepScope

PURGED_PREFIX = "purged:"


def dash(column: str) -> str:
    """SQL: '-' for a non-empty value, '' for an empty one (for columns a CHECK wants non-empty once
    filled: the row still says that there was a text)."""
    return f"CASE WHEN {column} = '' THEN '' ELSE '-' END"


def _purge_leads(scope: PurgeScope, registration: Registration) -> int:
    # A lead keeps the purged person's marker, not its own: a later lead of the same person starts a
    # new Person instead of matching this one.
    from .models import LeadLink, TracingTask

    sets = ", ".join(f"{c} = {v}" for c, v in registration.clear.items())
    scope.cursor.execute(
        f"""UPDATE {registration.table} l SET {sets}, person_key = '{PURGED_PREFIX}' || t.person_id
            FROM {LeadLink._meta.db_table} k JOIN {TracingTask._meta.db_table} t ON t.id = k.task_id
            WHERE l.id = k.lead_id AND t.person_id IN ({scope.persons})"""
    )
    return scope.cursor.rowcount


def _purge_access_log(scope: PurgeScope, registration: Registration) -> int:
    # The access log is append-only (a trigger); for the purge's own transaction it lets the free text
    # and the query strings change, never who read what when (migration 0031).
    sets = ", ".join(f"{c} = {v}" for c, v in registration.clear.items())
    scope.cursor.execute("SELECT set_config('tasks.access_log_purge', 'on', true)")
    scope.cursor.execute(
        f"UPDATE {registration.table} SET {sets} WHERE {registration.condition(scope)} "
        f"AND (reason NOT IN ('', '-') OR strpos(path, '?') > 0)"
    )
    changed = scope.cursor.rowcount
    scope.cursor.execute("SELECT set_config('tasks.access_log_purge', 'off', true)")
    return changed


def purge_rejections(scope: SweepScope) -> int:
    """Delete (or, dry, count) the rejected intake rows received before the cut-off: they hold the raw
    rows of people who never became a task."""
    from django.db import connection

    from .models import LeadRejection

    table = LeadRejection._meta.db_table
    with connection.cursor() as cursor:
        if scope.dry_run:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE received_at < %s", [scope.cutoff])
            return cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM {table} WHERE received_at < %s", [scope.cutoff])
        return cursor.rowcount


def upload_dir() -> Path:
    from .views.intake import UPLOAD_DIR

    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR


def purge_upload_jobs(scope: SweepScope) -> int:
    """Delete (or, dry, count) the upload jobs nobody touched for SESSION_COOKIE_AGE: their encrypted
    preview (which quotes rejected rows) goes with them; their files go with purge_uploads."""
    from datetime import timedelta

    from .models import UploadJob

    old = UploadJob.objects.filter(updated_at__lt=scope.now - timedelta(seconds=settings.SESSION_COOKIE_AGE))
    if scope.dry_run:
        return old.count()
    return old.delete()[0]


def purge_uploads(scope: SweepScope) -> int:
    """Delete (or, dry, count) the uploaded lead files of previews nobody confirmed: a preview can only
    be confirmed from the session that made it, so a file older than the longest session is abandoned.
    The files are whole lead lists (names, ID numbers, phones, addresses) in plaintext."""
    folder = upload_dir()
    if not folder.is_dir():
        return 0
    # File times are the real clock; `scope.now` may be earlier when the purge is run for a past moment.
    limit = min(scope.now.timestamp(), time.time()) - settings.SESSION_COOKIE_AGE
    done = 0
    for path in folder.iterdir():
        try:
            if not path.is_file() or path.stat().st_mtime >= limit:
                continue
            if not scope.dry_run:
                path.unlink()
        except FileNotFoundError:  # confirmed or cancelled meanwhile
            continue
        done += 1
    return done


def register() -> None:
    from auditlog.models import LogEntry as ChangeLogEntry
    from django.contrib.admin.models import LogEntry as AdminLogEntry
    from django.contrib.auth.models import Group, Permission

    from .models import (
        AccessLog,
        ApiToken,
        CloseContact,
        ContactAttempt,
        Division,
        DuplicateCandidate,
        Lead,
        LeadRejection,
        Notification,
        NotificationDelivery,
        Person,
        RadiusControl,
        Registration,
        TaskTransition,
        TestResult,
        TracingTask,
        TrajectoryEntry,
        Transfer,
        TriageRule,
        Unit,
        UploadJob,
        User,
    )

    in_tasks = "task_id IN ({tasks})"
    lifecycle.register(
        DuplicateCandidate,
        exempt="pairs of person ids with the rules that matched and non-identifying evidence",
    )
    lifecycle.register(
        Person,
        where="id IN ({persons})",
        clear={
            "name": "''",
            "name_birth_hash": "''",
            "name_hash": "''",
            "name_sound_hash": "''",
            "surname_hash": "''",
            "id_number": "''",
            "id_number_hash": "''",
            "phone": "''",
            "phone_hash": "''",
            "person_key": f"'{PURGED_PREFIX}' || id",
        },
        history_repr=True,  # str(person) is the name
        counter="persons",
        reencrypt=rotate_columns,
        rehash=rehash_persons,
    )
    lifecycle.register(
        Lead,
        where="id IN (SELECT lead_id FROM tasks_leadlink WHERE task_id IN ({tasks}))",
        clear={
            "name": "''",
            "name_hash": "''",
            "id_number": "''",
            "id_number_hash": "''",
            "name_birth_hash": "''",
            "phone": "''",
            "phone_hash": "''",
            "address": "''",
            "reason": "''",
            "payload": "'{}'::jsonb",
        },
        history=("person_key",),  # set by _purge_leads
        purge=_purge_leads,
        counter="leads",
        reencrypt=rotate_columns,
        rehash=rehash_leads,
    )
    lifecycle.register(
        TracingTask,
        where="person_id IN ({persons})",
        # "why unresolved" may quote an address.
        clear=["address", "unresolved_reason"],
        counter="tasks",
        reencrypt=rotate_columns,
        keep={"legal_hold_reason": "why a task's data is kept; a task on legal hold is never purged"},
    )
    lifecycle.register(
        CloseContact,
        where=in_tasks,
        clear=["name", "id_number", "phone", "last_contact_place", "address"],
        counter="field_records",
        reencrypt=rotate_columns,
    )
    lifecycle.register(
        TrajectoryEntry,
        where=in_tasks,
        clear={
            "address": "''",
            "companions": "''",
            "activity": "''",
            "seat": "''",
            "latitude": "NULL",
            "longitude": "NULL",
        },
        counter="field_records",
        reencrypt=rotate_columns,
        keep={
            "place_name": "the public place (a shop, a station): it feeds the risk-area statistics",
            "vehicle_number": "a bus, train or flight number: public transport, not the person",
        },
    )
    lifecycle.register(
        RadiusControl,
        where=in_tasks,
        clear={
            "address": "''",
            "note": "''",
            "latitude": "NULL",
            "longitude": "NULL",
            "location_accuracy_m": "NULL",
            # a centralised quarantine keeps "-", which its CHECK constraint needs
            "quarantine_site": dash("quarantine_site"),
        },
        counter="field_records",
        reencrypt=rotate_columns,
    )
    lifecycle.register(
        Registration,
        where=in_tasks,
        clear=["arrived_from", "address", "note"],
        counter="field_records",
        reencrypt=rotate_columns,
        keep={"health_state": "no symptoms / fever / other symptoms: feeds the monitoring statistics"},
    )
    lifecycle.register(ContactAttempt, where=in_tasks, clear=["note"], counter="field_records")
    lifecycle.register(TestResult, where=in_tasks, clear=["note"], counter="field_records")
    lifecycle.register(
        TaskTransition,
        where=in_tasks + " AND reason NOT IN ('', '-')",
        clear={"reason": dash("reason")},
        keep={"details": "ids and keys of the move"},
    )
    lifecycle.register(
        Transfer,
        where=in_tasks,
        clear={"reason": dash("reason"), "decision_reason": dash("decision_reason")},
    )
    lifecycle.register(
        Notification,
        where=in_tasks + " AND data ? 'reason'",
        clear={"data": lifecycle.scrub_json_keys("data", {"reason": "'-'"})},
    )
    lifecycle.register(
        AccessLog,
        where="person_id IN ({persons}) OR task_id IN ({tasks})",
        # Who read what, when and from where stays; the reason typed for a reveal and the page's query
        # string (a search by name or phone) go.
        clear={"reason": dash("reason"), "path": "split_part(path, '?', 1)"},
        purge=_purge_access_log,
        keep={"username": "the reader's account (staff)", "fields": "names of the fields read, not values"},
    )
    lifecycle.register(
        LeadRejection,
        sweep=purge_rejections,
        counter="rejections",
        reencrypt=rotate_rejections,
    )
    lifecycle.register_files("intake uploads", purge_uploads)
    lifecycle.register(
        UploadJob,
        sweep=purge_upload_jobs,
        keep={
            "name": "the uploaded file's name; the job is deleted with its file after SESSION_COOKIE_AGE",
            "error": "why the file could not be read (a limit, a format): no row of it",
        },
    )

    # Personal-looking fields that are not about the traced persons.
    staff = "staff accounts (one person, one account): deactivated, not purged; their names sign the work"
    lifecycle.register(User, exempt=staff)
    lifecycle.register(
        NotificationDelivery,
        exempt="the staff recipient's phone or e-mail address (the account's), never a traced person's",
    )
    lifecycle.register(Division, exempt="names of the territory's divisions")
    lifecycle.register(Unit, exempt="names of teams and sub-units")
    lifecycle.register(Permission, exempt="names of the permissions")
    lifecycle.register(Group, exempt="names of the staff roles")
    lifecycle.register(ApiToken, exempt="a staff account's credential: its label and why it was revoked")
    lifecycle.register(
        TriageRule, exempt="the intake's triage table: sources, priorities and a note on the rule"
    )
    lifecycle.register(
        ChangeLogEntry,
        exempt="purged with each registration: the change history of the rows a purge anonymises loses "
        "the same fields in the same transaction (lifecycle.scrub_history)",
    )
    lifecycle.register(
        AdminLogEntry,
        exempt="the admin registers no model whose text names a traced person (tasks print T<id>)",
    )


def register_third_party() -> None:
    """Models of installed packages whose field names look personal: staff logins and devices."""
    from django.apps import apps

    reasons = {
        "otp_totp.TOTPDevice": "the label of a staff account's second-factor device",
        "axes.AccessAttempt": "failed logins of staff accounts (django-axes); cleared by axes_reset",
        "axes.AccessFailureLog": "failed logins of staff accounts (django-axes)",
        "axes.AccessLog": "logins of staff accounts (django-axes)",
        "sessions.Session": "the signed state of staff logins; it ends with SESSION_COOKIE_AGE (clearsessions)",
    }
    for label, reason in reasons.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        lifecycle.register(model, exempt=reason)
