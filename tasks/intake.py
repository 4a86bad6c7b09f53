"""The 10-minute intake batch: pending leads → persons → person-level tracing tasks, in set operations.

`intake_run()` is the step function behind both `python manage.py run_intake` and the Celery beat task
(tasks/tasks.py). It runs in ONE transaction holding a transaction-level advisory lock:

1. claim every pending lead (DELETE its PendingLead row … RETURNING) into a temp table;
2. upsert the persons by person_key (a keyed hash, see validation.py), filling gaps only;
3. group the claimed leads per person: the most serious priority, the most precise division (with its
   address), the close-contact parent task;
4. persons with an ACTIVE task: their leads are attached to it (`merged`) and its priority is raised when
   the new reason is more serious;
5. for the others, resolve the village: a village code is taken as is; otherwise a village (or township)
   of the given subtree whose name appears in the address is looked for — a unique village resolves the
   task; several, or none, leave the task on the most precise division known with `unresolved_reason`
   in plain language (the duty officer's "unresolved" queue);
6. create one task per remaining person, by a plain INSERT in a savepoint; if the one-active-task-per-
   person index refuses it (another writer opened a task for a person meanwhile), again with ON CONFLICT
   DO NOTHING, and the leads of those persons are attached to the task the other writer opened;
7. write a LeadLink (batch, task) for every claimed lead, fill the batch counts; commit. Then
   `tasks.dispatch.dispatch_new_tasks(batch_id=…)` runs on the committed tasks.

Concurrency: a second run while one is in progress finds the advisory lock taken and returns None at
once (the next tick picks up whatever is pending). Even without the lock, a lead is claimed by deleting
its pending row (one deleter wins) and its link's primary key is the lead, so a lead can never be
consumed twice; the run aborts unless it links every lead it claimed. A crash at any step rolls the
whole transaction back: every lead is still pending, and a FAILED batch row records the error.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import crypto, dispatch, notify
from .clocks import clock_windows, kind_change_cols, next_alert_sql
from .dispatch import follow_reasons
from .models import ACTIVE_STATUSES, KIND_RANK, IntakeBatch, TaskKind

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key of the intake consolidation ("intake" in ASCII).
INTAKE_LOCK_KEY = 0x696E74616B65

_ACTIVE_SQL = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"

# Village names as written in addresses: "秀华社区居民委员会" → "秀华社区", "向荣村委会" → "向荣村".
_SHORT_NAME_SQL = (
    "regexp_replace(regexp_replace(d.name, '(村民委员会|村委员会|村委会)$', '村'), "
    "'(社区居民委员会|社区居委会|居民委员会|居委会|委员会|办事处)$', "
    "CASE WHEN d.name ~ '社区(居民委员会|居委会)$' THEN '社区' ELSE '' END)"
)


# A division name as a literal in a PostgreSQL regular expression (names may hold brackets).
_REGEX_ESCAPE_SQL = "regexp_replace({name}, '([][(){{}}.*+?^$|\\\\])', '\\\\\\1', 'g')"
# "海南省" → "海南", "海口市" → "海口": provinces and cities are often written without their suffix.
_UPPER_SHORT_SQL = "regexp_replace(d.name, '(省|市|自治区|特别行政区)$', '')"


class IntakeIntegrityError(RuntimeError):
    """The run would not consume exactly the leads it claimed: rolled back, nothing changed."""


def intake_run(*, now: datetime | None = None) -> IntakeBatch | None:
    """Consolidate all pending leads into one batch. Returns the finished batch, or None when there was
    nothing pending or another run holds the intake lock."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            batch = _consolidate(now)
    except Exception as exc:
        # The transaction rolled back: every claimed lead is pending again. Keep a trace of the failure.
        IntakeBatch.objects.create(
            started_at=now,
            finished_at=timezone.now(),
            status=IntakeBatch.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    if batch is None:
        return None
    started = time.perf_counter()
    _dispatch(batch, now)
    batch.step_times["dispatch rest"] = time.perf_counter() - started
    return batch


def _dispatch(batch: IntakeBatch, now: datetime) -> None:
    try:
        with transaction.atomic():
            # What the batch left undispatched; the person was already followed (plan_intake_dispatch).
            dispatched = dispatch.dispatch_new_tasks(batch_id=batch.id, now=now, follow=False)
    except Exception as exc:
        # The intake itself is committed; the dispatch clock (dispatch_due) is running and the dispatch
        # sweep retries. Record why on the batch instead of losing the consolidation.
        logger.exception("dispatch of intake batch %s failed", batch.id)
        batch.error = f"dispatch failed: {type(exc).__name__}: {exc}"[:2000]
        batch.save(update_fields=["error"])
        return
    batch.dispatched += int(dispatched or 0)
    batch.save(update_fields=["dispatched"])


class StepTimes(dict):
    """Seconds per step of one batch, logged with the batch: where a slow batch spent its time."""

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.items())


def _consolidate(now: datetime) -> IntakeBatch | None:
    steps = StepTimes()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [INTAKE_LOCK_KEY])
        if not cursor.fetchone()[0]:
            logger.info("intake: another run holds the lock; nothing done")
            return None
        # The person and grouping sorts of a million-lead batch stay in memory (one batch at a time: the lock).
        cursor.execute("SET LOCAL work_mem = '1GB'")
        # ON COMMIT DROP does not fire when the caller's transaction is still open (a savepoint): drop
        # the work tables explicitly too.
        cursor.execute(_DROP_WORK_TABLES)
        with steps.step("claim"):
            claimed = _claim(cursor)
        if claimed == 0:
            cursor.execute(_DROP_WORK_TABLES)
            return None
        batch = IntakeBatch.objects.create(started_at=now, status=IntakeBatch.Status.RUNNING)
        with steps.step("persons"):
            _upsert_persons(cursor, now)
        with steps.step("grouping"):
            _group_by_person(cursor)
        with steps.step("open tasks"):
            merged = _attach_to_open_tasks(cursor, now)
        with translation.override(settings.LANGUAGE_CODE), steps.step("triage escalation"):
            _escalate_open_tasks(cursor, now)
        with steps.step("villages"):
            _resolve_villages(cursor)
        # Reasons and history are stored text: in the site's language, not the caller's.
        with translation.override(settings.LANGUAGE_CODE):
            # The dispatch plan of the tasks about to be created; a person not in it gets a `new` task.
            cursor.execute(
                "CREATE TEMP TABLE intake_dispatch (person_id bigint PRIMARY KEY, team_id bigint, subunit_id bigint, "
                "assignee_id bigint) ON COMMIT DROP"
            )
            # Looked up at call time: intake tests replace dispatch to see tasks as the intake leaves them.
            with steps.step("dispatch plan"):
                dispatch.plan_intake_dispatch(cursor)
            with steps.step("tasks"):
                new_tasks, unresolved, late_merged, dispatched = _create_tasks(cursor, batch, now)
            with steps.step("history"):
                _record_transitions(cursor, now)
        with steps.step("lead links"):
            _link_leads(cursor, batch, claimed)
        batch.leads = claimed
        batch.new_tasks = new_tasks
        batch.merged = merged + late_merged
        batch.unresolved = unresolved
        batch.dispatched = dispatched
        batch.status = IntakeBatch.Status.FINISHED
        batch.finished_at = timezone.now()
        batch.save(
            update_fields=[
                "leads",
                "new_tasks",
                "merged",
                "unresolved",
                "dispatched",
                "status",
                "finished_at",
            ]
        )
        cursor.execute(_DROP_WORK_TABLES)
    batch.step_times = steps
    logger.info("intake batch %s: %s leads in %s", batch.id, claimed, steps)
    return batch


_DROP_WORK_TABLES = (
    "DROP TABLE IF EXISTS intake_lead, intake_person, intake_place, intake_dispatch, intake_new_task, "
    "intake_address, intake_named, intake_found, intake_fuzzy"
)


def _claim(cursor) -> int:
    # DELETE … RETURNING takes each pending lead once: a concurrent claimer (were the lock bypassed)
    # waits on the deleted rows and then skips them. A rollback makes them pending again.
    # person_key sorts under the "C" collation: the keys are ASCII ("id:"/"pn:" and hex), so the order is
    # the same, and the database's C.UTF-8 would take the slow locale-aware path in every person sort
    # (3 s of the persons' DISTINCT ON alone at a million leads).
    cursor.execute(
        """
        CREATE TEMP TABLE intake_lead (
            id bigint, person_key text COLLATE "C", priority smallint, division_id text, current_division_id text, address text,
            related_task_id bigint, reported_at timestamptz, id_number text, id_number_hash text, name text, phone text,
            phone_hash text, kind_rank smallint, id_type text, name_birth_hash text, name_hash text
        ) ON COMMIT DROP
        """
    )
    cursor.execute(
        f"""
        WITH claimed AS (DELETE FROM tasks_pendinglead RETURNING lead_id)
        INSERT INTO intake_lead
        SELECT l.id, l.person_key, l.priority, l.division_id, l.current_division_id, l.address, l.related_task_id,
               l.reported_at, l.id_number, l.id_number_hash, l.name, l.phone, l.phone_hash,
               coalesce(tr.kind_rank, %(default_rank)s), l.id_type, l.name_birth_hash, l.name_hash
        FROM claimed JOIN tasks_lead l ON l.id = claimed.lead_id
        LEFT JOIN ({triage_values_sql()}) tr (source, priority, kind_rank)
               ON tr.source = l.source AND tr.priority = l.priority
        """,
        {"default_rank": KIND_RANK[TaskKind.INVESTIGATION]},
    )
    claimed = cursor.rowcount
    if claimed:
        # Statistics only for the columns later steps filter, join or group on: the envelopes and hashes
        # are only copied, and computing their statistics (random, all distinct) was half of the ANALYZE.
        cursor.execute(
            "ANALYZE intake_lead (person_key, priority, division_id, current_division_id, address, related_task_id)"
        )
    return claimed


def _upsert_persons(cursor, now: datetime) -> None:
    # One row per person_key, the most complete lead first; an existing person only gets its gaps filled.
    # id_number, phone and name are AES-GCM envelopes (tasks/crypto.py): they are copied, never decrypted, and
    # tested for presence on their blind index (`*_hash <> ''`). The envelope's length grows with the
    # plaintext's (fixed header, no padding), so `length(id_number)` still prefers the 18-character form
    # of an ID over the legacy 15-digit one (both have the same hash, of the 18-digit form). A document's
    # type is part of its hash (validation.clean_document), so the leads of one "id:" key share one type;
    # the type travels with the number. The name-birth hash fills a gap only with the name it was
    # computed from, so that it never pairs a person on a name the person does not show.
    cursor.execute(
        """
        INSERT INTO tasks_person AS p (person_key, id_type, id_number, id_number_hash, name, name_hash, phone, phone_hash,
                                       name_birth_hash, created_at)
        SELECT DISTINCT ON (person_key) person_key, id_type, id_number, id_number_hash, name, name_hash, phone, phone_hash,
               name_birth_hash, %(now)s
        FROM intake_lead
        ORDER BY person_key, (id_number_hash <> '') DESC, length(id_number) DESC, (phone_hash <> '') DESC,
                 (name <> '') DESC, reported_at DESC
        ON CONFLICT (person_key) DO UPDATE SET
            id_type = CASE WHEN length(EXCLUDED.id_number) > length(p.id_number) THEN EXCLUDED.id_type ELSE p.id_type END,
            id_number = CASE WHEN length(EXCLUDED.id_number) > length(p.id_number) THEN EXCLUDED.id_number ELSE p.id_number END,
            id_number_hash = CASE WHEN p.id_number_hash = '' THEN EXCLUDED.id_number_hash ELSE p.id_number_hash END,
            name = CASE WHEN p.name = '' THEN EXCLUDED.name ELSE p.name END,
            name_hash = CASE WHEN p.name = '' THEN EXCLUDED.name_hash ELSE p.name_hash END,
            phone = CASE WHEN p.phone_hash = '' THEN EXCLUDED.phone ELSE p.phone END,
            phone_hash = CASE WHEN p.phone_hash = '' THEN EXCLUDED.phone_hash ELSE p.phone_hash END,
            name_birth_hash = CASE WHEN p.name_birth_hash = '' AND (p.name = '' OR p.name_hash = EXCLUDED.name_hash)
                                   THEN EXCLUDED.name_birth_hash ELSE p.name_birth_hash END
        WHERE length(EXCLUDED.id_number) > length(p.id_number)
           OR (p.name = '' AND EXCLUDED.name <> '')
           OR (p.phone_hash = '' AND EXCLUDED.phone_hash <> '')
           OR (p.name_birth_hash = '' AND EXCLUDED.name_birth_hash <> '' AND (p.name = '' OR p.name_hash = EXCLUDED.name_hash))
        """,
        {"now": now},
    )


def _group_by_person(cursor) -> None:
    # The representative division is the most precise one given (a village beats a county), and the
    # address travels with it; the parent task is the one of the most serious close-contact lead; the
    # current location is the most recent one given. One sort of the leads by person gives the
    # representative and, as window aggregates of the same pass, the count and the best priority
    # (ordered array_agg per person cost a sort per person and aggregate); the two rare parts are read
    # from the few leads that have them.
    cursor.execute(
        f"""
        CREATE TEMP TABLE intake_person ON COMMIT DROP AS
        SELECT p.id AS person_id, g.person_key, g.lead_count AS leads, g.best_priority AS priority, g.division_id,
               g.address, ctx.source_task_id, t.id AS task_id, ''::text AS unresolved_reason,
               cur.current_division_id, cur.current_lead_id, NULL::text AS household_id, g.kind_rank
        FROM (
            SELECT DISTINCT ON (il.person_key) il.person_key, il.division_id, il.address,
                   count(*) OVER per_person AS lead_count, min(il.priority) OVER per_person AS best_priority,
                   max(il.kind_rank) OVER per_person AS kind_rank
            FROM intake_lead il
            -- The window's order is the DISTINCT ON order, so one sort serves both (its frame is the whole
            -- person: the aggregates are the person's, not running ones).
            WINDOW per_person AS (
                PARTITION BY il.person_key
                ORDER BY length(il.division_id) DESC, (il.address <> '') DESC, il.priority, il.reported_at DESC
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            )
            ORDER BY il.person_key, length(il.division_id) DESC, (il.address <> '') DESC, il.priority, il.reported_at DESC
        ) g
        JOIN tasks_person p ON p.person_key = g.person_key
        LEFT JOIN (
            SELECT DISTINCT ON (person_key) person_key, related_task_id AS source_task_id
            FROM intake_lead WHERE related_task_id IS NOT NULL
            ORDER BY person_key, priority, reported_at
        ) ctx ON ctx.person_key = g.person_key
        LEFT JOIN (
            SELECT DISTINCT ON (person_key) person_key, current_division_id, id AS current_lead_id
            FROM intake_lead WHERE current_division_id IS NOT NULL
            ORDER BY person_key, reported_at DESC, id DESC
        ) cur ON cur.person_key = g.person_key
        LEFT JOIN tasks_tracingtask t ON t.person_id = p.id AND t.status IN {_ACTIVE_SQL}
        """
    )
    cursor.execute("ANALYZE intake_person")


def _attach_to_open_tasks(cursor, now: datetime) -> int:
    """Raise the priority of open tasks that received a more serious lead; return the leads merged."""
    cursor.execute(
        """
        UPDATE tasks_tracingtask t SET priority = ip.priority, updated_at = %(now)s
        FROM intake_person ip
        WHERE ip.task_id = t.id AND ip.priority < t.priority
        """,
        {"now": now},
    )
    cursor.execute("SELECT coalesce(sum(leads), 0) FROM intake_person WHERE task_id IS NOT NULL")
    return int(cursor.fetchone()[0])


def triage_values_sql() -> str:
    """The triage table (TriageRule; the defaults while it is empty) resolved for every (source,
    priority) pair, as a VALUES list of (source, priority, kind rank): a few dozen rows, computed once
    per batch, that the claim joins."""
    from .models import Priority, Source, TriageRule
    from .models.tracing import DEFAULT_TRIAGE_RULES

    rules = list(TriageRule.objects.order_by("position", "id").values_list("source", "priority", "kind"))
    if not rules:
        rules = [(source, priority, kind) for _p, source, priority, kind, _n in DEFAULT_TRIAGE_RULES]
    rows = []
    for source in Source.values:
        for priority in Priority.values:
            kind = next(
                (k for s, p, k in rules if s in ("", source) and p in (None, priority)),
                TaskKind.INVESTIGATION,
            )
            rows.append(f"('{source}', {int(priority)}, {KIND_RANK[TaskKind(kind)]})")
    return "VALUES " + ", ".join(rows)


# A person's kind from the rank of their most serious lead (models.KIND_RANK).
KIND_FROM_RANK_SQL = (
    "(CASE {rank} WHEN 1 THEN 'registration' WHEN 2 THEN 'verification' ELSE 'investigation' END)"
)
RANK_FROM_KIND_SQL = "(CASE {kind} WHEN 'registration' THEN 1 WHEN 'verification' THEN 2 ELSE 3 END)"


def _escalate_open_tasks(cursor, now: datetime) -> None:
    """An open task of a lighter kind whose person got a more serious lead takes that kind; its new
    clocks start now (tasks/clocks.py kind_change_cols); the history says from which kind to which."""
    new_kind = KIND_FROM_RANK_SQL.format(rank="esc.kind_rank")
    cols = {"kind": new_kind, **kind_change_cols(new_kind, "%(now)s")}
    sets = ",\n            ".join(f"{column} = {expression}" for column, expression in cols.items())
    cursor.execute(
        f"""
        WITH esc AS MATERIALIZED (
            SELECT t.id, t.kind AS old_kind, ip.kind_rank
            FROM intake_person ip JOIN tasks_tracingtask t ON t.id = ip.task_id
            WHERE ip.kind_rank > {RANK_FROM_KIND_SQL.format(kind="t.kind")}
        ),
        upd AS (
            UPDATE tasks_tracingtask t SET
            {sets},
            next_alert_at = {next_alert_sql(cols)},
            updated_at = %(now)s,
            version = t.version + 1
            FROM esc WHERE t.id = esc.id
            RETURNING t.id, t.status, t.kind
        )
        INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
        SELECT upd.id, upd.status, upd.status, NULL, %(now)s, %(reason)s,
               jsonb_build_object('kind', jsonb_build_object('from', esc.old_kind, 'to', upd.kind))
        FROM upd JOIN esc ON esc.id = upd.id
        ORDER BY upd.id
        """,
        {
            **clock_windows(),
            "now": now,
            "reason": _("Escalated by the triage: a more serious lead arrived"),
        },
    )


def _reason_template(message: str) -> str:
    """A translated message with {placeholders} as a PostgreSQL format() string."""
    return (
        message.replace("%", "%%")
        .replace("{count}", "%1$s")
        .replace("{names}", "%2$s")
        .replace("{division}", "%3$s")
    )


def _resolve_villages(cursor) -> None:
    """The village (or township) named in the address of each person still without a task, in set SQL.

    - Places are the townships and villages under the person's division, each once (two persons of one
      batch may give a county and one of its townships: the township's villages are one set, not two).
    - The names of the person's county, city and province and of the townships under the division that
      the address names are blanked out of the address before villages are looked for: a village whose
      short name lies inside them ("大成居委会" → "大成" in "大成镇") is not named by the address.
    - A village whose short name lies inside a longer village name also found ("新村" in "广新村") counts
      only where it also appears on its own.
    - When the address names exactly one township, only its villages count.
    One village resolves the task; several in one township leave it on that township; otherwise it stays
    on the most precise division known, with the reason on the unresolved queue."""
    with translation.override(settings.LANGUAGE_CODE):
        reasons = {
            "no_address": _reason_template(_("{division} is not a village and no address was given")),
            "no_match": _reason_template(_("the address names no village of {division}")),
            "ambiguous": _reason_template(_("the address matches {count} villages: {names}")),
        }
    # Places (townships, villages) of the subtrees that need resolving, with their short names, once each.
    cursor.execute(
        f"""
        CREATE TEMP TABLE intake_place ON COMMIT DROP AS
        SELECT DISTINCT d.code::text AS code, d.name, d.level, {_SHORT_NAME_SQL} AS short
        FROM (SELECT DISTINCT division_id FROM intake_person
              WHERE task_id IS NULL AND length(division_id) < 12 AND address <> '') s
        JOIN tasks_division d ON d.code ~>=~ s.division_id AND d.code ~<~ (s.division_id || ':')
        WHERE d.level IN ('township', 'village') AND length(d.code) > length(s.division_id)
        """
    )
    if cursor.rowcount:
        cursor.execute("CREATE INDEX ON intake_place (code text_pattern_ops)")
        cursor.execute("ANALYZE intake_place")
    cursor.execute(
        """
        UPDATE intake_person ip SET unresolved_reason = format(
            CASE WHEN ip.address = '' THEN %(no_address)s ELSE %(no_match)s END, NULL, NULL, d.name)
        FROM tasks_division d
        WHERE d.code = ip.division_id AND ip.task_id IS NULL AND length(ip.division_id) < 12
        """,
        reasons,
    )
    # The persons to resolve, and the townships under their division that their address names.
    if not _decrypt_addresses(cursor):
        return
    cursor.execute("CREATE UNIQUE INDEX ON intake_address (person_id)")
    cursor.execute(
        """
        CREATE TEMP TABLE intake_named ON COMMIT DROP AS
        SELECT a.person_id, pl.code, pl.name
        FROM intake_address a
        JOIN intake_place pl ON pl.code ~>=~ a.division_id AND pl.code ~<~ (a.division_id || ':')
                            AND pl.level = 'township' AND strpos(a.address, pl.name) > 0
        """
    )
    cursor.execute("CREATE INDEX ON intake_named (person_id)")
    # The address with the names of its upper divisions and of the named townships replaced by '|'.
    cursor.execute(
        f"""
        WITH names AS (
            SELECT a.person_id, d.name FROM intake_address a
            JOIN tasks_division d ON d.code IN (left(a.division_id, 2), left(a.division_id, 4), left(a.division_id, 6))
            UNION
            SELECT a.person_id, {_UPPER_SHORT_SQL} FROM intake_address a
            JOIN tasks_division d ON d.code IN (left(a.division_id, 2), left(a.division_id, 4))
            UNION
            SELECT person_id, name FROM intake_named
        ), pattern AS (
            SELECT n.person_id,
                   string_agg({_REGEX_ESCAPE_SQL.format(name="n.name")}, '|' ORDER BY length(n.name) DESC) AS re
            FROM names n JOIN intake_address a ON a.person_id = n.person_id
            WHERE length(n.name) >= 2 AND strpos(a.address, n.name) > 0
            GROUP BY n.person_id
        )
        UPDATE intake_address a SET blanked = regexp_replace(a.address, p.re, '|', 'g')
        FROM pattern p WHERE p.person_id = a.person_id
        """
    )
    cursor.execute(
        """
        CREATE TEMP TABLE intake_found ON COMMIT DROP AS
        SELECT a.person_id, a.blanked, pl.code, pl.name, pl.short
        FROM intake_address a
        JOIN intake_place pl ON pl.code ~>=~ a.division_id AND pl.code ~<~ (a.division_id || ':')
                            AND pl.level = 'village' AND length(pl.short) >= 2 AND strpos(a.blanked, pl.short) > 0
        """
    )
    cursor.execute("CREATE INDEX ON intake_found (person_id)")
    # No village found: one character of a village's name may be mistyped (长东村 as 长冬村). Only names
    # of two characters or more before their 村/社区 marker, the marker itself exact; a unique match
    # resolves, several are explained like any ambiguity.
    cursor.execute(
        """
        CREATE TEMP TABLE intake_fuzzy ON COMMIT DROP AS
        SELECT p.code, '%%' || overlay(p.short PLACING '_' FROM i FOR 1) || '%%' AS pattern
        FROM (SELECT code, short, substring(short FROM '(社区|村)$') AS marker FROM intake_place
              WHERE level = 'village') p,
             generate_series(1, length(p.short) - length(p.marker)) i
        WHERE p.marker IS NOT NULL AND length(p.short) - length(p.marker) >= 2
        """
    )
    cursor.execute("CREATE INDEX ON intake_fuzzy (code text_pattern_ops)")
    cursor.execute(
        """
        INSERT INTO intake_found
        SELECT DISTINCT a.person_id, a.blanked, pl.code, pl.name, pl.short
        FROM intake_address a
        JOIN intake_fuzzy fz ON fz.code ~>=~ a.division_id AND fz.code ~<~ (a.division_id || ':')
                            AND a.blanked LIKE fz.pattern
        JOIN intake_place pl ON pl.code = fz.code
        WHERE NOT EXISTS (SELECT 1 FROM intake_found f WHERE f.person_id = a.person_id)
          -- Within the township the address names, when it names one.
          AND NOT EXISTS (SELECT 1 FROM intake_named n WHERE n.person_id = a.person_id AND left(fz.code, 9) <> n.code)
        """
    )
    cursor.execute("ANALYZE intake_found")
    cursor.execute(
        """
        WITH specific AS (
            -- A name inside a longer one found counts only where it also stands on its own.
            SELECT f.* FROM intake_found f
            WHERE NOT EXISTS (
                SELECT 1 FROM intake_found g
                WHERE g.person_id = f.person_id AND length(g.short) > length(f.short)
                  AND strpos(g.short, f.short) > 0 AND strpos(replace(f.blanked, g.short, '|'), f.short) = 0)
        ), township AS (
            SELECT person_id, min(code) AS code, min(name) AS name FROM intake_named
            GROUP BY person_id HAVING count(*) = 1
        ), m AS (
            -- With one township named, the villages outside it are ignored.
            SELECT s.person_id, s.code, s.name FROM specific s
            LEFT JOIN township tw ON tw.person_id = s.person_id
            WHERE tw.code IS NULL OR left(s.code, 9) = tw.code
        ), v AS (
            SELECT person_id,
                   count(*) AS villages,
                   min(code) AS village,
                   count(DISTINCT left(code, 9)) AS village_townships,
                   min(left(code, 9)) AS village_township,
                   string_agg(name, '、' ORDER BY code) AS village_names
            FROM m GROUP BY person_id
        ), r AS (
            SELECT coalesce(v.person_id, tw.person_id) AS person_id, coalesce(v.villages, 0) AS villages,
                   v.village, v.village_townships, v.village_township, v.village_names,
                   tw.code AS township, tw.name AS township_name
            FROM v FULL JOIN township tw ON tw.person_id = v.person_id
        )
        UPDATE intake_person ip SET
            division_id = CASE
                WHEN r.villages = 1 THEN r.village
                WHEN r.villages > 1 AND r.village_townships = 1 THEN r.village_township
                WHEN r.villages = 0 AND r.township IS NOT NULL THEN r.township
                ELSE ip.division_id END,
            unresolved_reason = CASE
                WHEN r.villages = 1 THEN ''
                WHEN r.villages > 1 THEN format(%(ambiguous)s, r.villages, r.village_names)
                WHEN r.township IS NOT NULL THEN format(%(no_match)s, NULL, NULL, r.township_name)
                ELSE ip.unresolved_reason END
        FROM r WHERE r.person_id = ip.person_id
        """,
        reasons,
    )


def _decrypt_addresses(cursor) -> int:
    """intake_address: the plaintext address of each person to resolve. Addresses are stored encrypted
    (leads, tasks); only the ones the batch must read are decrypted, here in Python, and reach
    PostgreSQL only in this temporary table, dropped at commit. Returns the number of rows."""
    cursor.execute(
        """
        SELECT ip.person_id, ip.division_id, ip.address
        FROM intake_person ip
        WHERE ip.task_id IS NULL AND length(ip.division_id) < 12 AND ip.address <> ''
        """
    )
    rows = cursor.fetchall()
    cursor.execute(
        "CREATE TEMP TABLE intake_address (person_id bigint, division_id text, address text, blanked text) "
        "ON COMMIT DROP"
    )
    if not rows:
        return 0
    decrypt = crypto.decrypt
    with cursor.copy("COPY intake_address (person_id, division_id, address, blanked) FROM STDIN") as copy:
        for person_id, division_id, address in rows:
            plain = decrypt(address)
            copy.write_row((person_id, division_id, plain, plain))
    cursor.execute("ANALYZE intake_address")
    return len(rows)


def _create_tasks(cursor, batch: IntakeBatch, now: datetime) -> tuple[int, int, int, int]:
    window = timedelta(minutes=settings.DISPATCH_WINDOW_MINUTES)
    params = {
        **clock_windows(),
        "batch": batch.id,
        "now": now,
        "due": batch.started_at + window,
        "radius_due": now + timedelta(minutes=settings.RADIUS_WINDOW_MINUTES),
        "trace_due": now + timedelta(minutes=settings.TRACE_WINDOW_MINUTES),
        "verify_due": now + timedelta(minutes=settings.VERIFY_WINDOW_MINUTES),
        "register_due": now + timedelta(minutes=settings.REGISTER_WINDOW_MINUTES),
    }
    dispatched_at = "CASE WHEN d.person_id IS NOT NULL THEN %(now)s END"
    clock_cols = {
        "status": "CASE WHEN d.person_id IS NOT NULL THEN 'dispatched' ELSE 'new' END",
        "dispatch_due": "%(due)s",
        "dispatched_at": dispatched_at,
        "radius_due": "CASE WHEN d.person_id IS NOT NULL THEN %(radius_due)s::timestamptz END",
        "trace_due": "CASE WHEN d.person_id IS NOT NULL THEN %(trace_due)s::timestamptz END",
        "radius_limited_at": "NULL::timestamptz",
        "traced_at": "NULL::timestamptz",
        "rework_due": "NULL::timestamptz",
        "rework_done_at": "NULL::timestamptz",
        "verify_due": "CASE WHEN d.person_id IS NOT NULL THEN %(verify_due)s::timestamptz END",
        "register_due": "CASE WHEN d.person_id IS NOT NULL THEN %(register_due)s::timestamptz END",
        "verified_at": "NULL::timestamptz",
        "registered_at": "NULL::timestamptz",
        "clock_alerts": "0",
    }
    # The kind's clocks only (tasks/clocks.py KIND_CLOCKS); rank 3 investigation, 2 verification, 1 registration.
    for column, rank in (("radius_due", 3), ("trace_due", 3), ("verify_due", 2), ("register_due", 1)):
        clock_cols[column] = f"CASE WHEN ip.kind_rank = {rank} THEN {clock_cols[column]} END"
    cursor.execute(
        "CREATE TEMP TABLE intake_new_task (id bigint, person_id bigint, division_id text, status text) ON COMMIT DROP"
    )
    # Rows are inserted in person order so that two writers racing on the same persons lock them in the
    # same order. A person who got an active task from another writer since the batch looked (step 4)
    # is skipped (ON CONFLICT) and attached to that task below. ON CONFLICT costs every row a speculative
    # insertion (2.5 to 3.4 s at a million tasks) for a race that almost never happens: the plain INSERT
    # is tried first, in a savepoint, and only when the one-active-task index refuses it is the statement
    # run again with ON CONFLICT.
    insert = f"""
        WITH created AS (
            INSERT INTO tasks_tracingtask (person_id, status, priority, division_id, unresolved_reason, address,
                batch_id, source_task_id, generation, created_at, updated_at, team_id, subunit_id, assignee_id,
                dispatch_due, dispatched_at, radius_due, trace_due, verify_due, register_due, next_alert_at, version,
                kind)
            SELECT ip.person_id, {clock_cols["status"]}, ip.priority, ip.division_id, ip.unresolved_reason, ip.address,
                %(batch)s, ip.source_task_id, coalesce(st.generation + 1, 0), %(now)s, %(now)s,
                d.team_id, d.subunit_id, d.assignee_id,
                %(due)s, {dispatched_at}, {clock_cols["radius_due"]}, {clock_cols["trace_due"]},
                {clock_cols["verify_due"]}, {clock_cols["register_due"]},
                {next_alert_sql(clock_cols)}, CASE WHEN d.person_id IS NOT NULL THEN 2 ELSE 1 END,
                {KIND_FROM_RANK_SQL.format(rank="ip.kind_rank")}
            FROM intake_person ip
            LEFT JOIN intake_dispatch d ON d.person_id = ip.person_id
            LEFT JOIN tasks_tracingtask st ON st.id = ip.source_task_id
            WHERE ip.task_id IS NULL
            ORDER BY ip.person_id
            ON_CONFLICT
            RETURNING id, person_id, division_id, status
        )
        INSERT INTO intake_new_task SELECT id, person_id, division_id, status FROM created
        """
    try:
        with transaction.atomic():
            cursor.execute(insert.replace("ON_CONFLICT", ""), params)
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)  # psycopg's error details
        if diag is None or diag.constraint_name != "one_active_task_per_person":
            raise
        logger.info(
            "intake batch %s: a person got an active task meanwhile; inserting with ON CONFLICT", batch.id
        )
        on_conflict = f"ON CONFLICT (person_id) WHERE status IN {_ACTIVE_SQL} DO NOTHING"
        cursor.execute(insert.replace("ON_CONFLICT", on_conflict), params)
    new_tasks = cursor.rowcount
    cursor.execute("SELECT count(*), coalesce(sum(leads), 0) FROM intake_person WHERE task_id IS NULL")
    wanted, wanted_leads = cursor.fetchone()
    late_merged = 0
    if new_tasks < wanted:
        cursor.execute(
            f"""
            UPDATE intake_person ip SET task_id = t.id
            FROM tasks_tracingtask t
            WHERE ip.task_id IS NULL AND t.person_id = ip.person_id AND t.status IN {_ACTIVE_SQL}
              AND NOT EXISTS (SELECT 1 FROM intake_new_task n WHERE n.person_id = ip.person_id)
            RETURNING ip.leads
            """
        )
        late_merged = sum(row[0] for row in cursor.fetchall())
    cursor.execute("ANALYZE intake_new_task")
    cursor.execute(
        "SELECT count(*) FILTER (WHERE length(division_id) < 12), count(*) FILTER (WHERE status = 'dispatched') "
        "FROM intake_new_task"
    )
    unresolved, dispatched = cursor.fetchone()
    return new_tasks, unresolved, late_merged, dispatched


def _record_transitions(cursor, now: datetime) -> None:
    """The history of the tasks just created, as dispatch would have written it: new → new when the
    person was followed to their current location, then new → dispatched. Two plain inserts (the
    follow rows first, so a task's rows keep their order by id) rather than one over a lateral union:
    a second cheaper than the union at a million tasks."""
    params = {
        **follow_reasons(),
        "now": now,
        "dispatch_reason": _("Automatic dispatch after the intake batch"),
    }
    cursor.execute(
        """
        INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
        SELECT n.id, 'new', 'new', NULL, %(now)s, %(why)s,
               jsonb_build_object('follow_the_person', true, 'lead', ip.current_lead_id,
                                  'division', jsonb_build_object('from', ip.household_id, 'to', ip.division_id))
        FROM intake_new_task n
        JOIN intake_person ip ON ip.person_id = n.person_id
        WHERE ip.household_id IS NOT NULL
        ORDER BY n.id
        """,
        params,
    )
    # A task is inserted dispatched exactly when the plan has a row for its person.
    cursor.execute(
        """
        INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
        SELECT n.id, 'new', 'dispatched', NULL, %(now)s, %(dispatch_reason)s,
               jsonb_build_object('division', n.division_id, 'team', d.team_id, 'subunit', d.subunit_id,
                                  'assignee', d.assignee_id)
        FROM intake_new_task n
        JOIN intake_dispatch d ON d.person_id = n.person_id
        WHERE n.status = 'dispatched'
        ORDER BY n.id
        """,
        params,
    )
    # Each assignee hears of the batch's tasks once, whatever their number.
    digest_ctes, digest_params = notify.assigned_digest_ctes("batch_assigned")
    cursor.execute(
        "WITH batch_assigned AS ("
        " SELECT n.id, d.assignee_id FROM intake_new_task n"
        " JOIN intake_dispatch d ON d.person_id = n.person_id WHERE n.status = 'dispatched'), "
        + ", ".join(digest_ctes)
        + " SELECT count(*) FROM assigned_note",
        {**digest_params, "digest_now": now},
    )


def _link_leads(cursor, batch: IntakeBatch, claimed: int) -> None:
    # task_id is NOT NULL and lead_id the primary key: a lead left without a task, or linked twice,
    # aborts the batch.
    cursor.execute(
        """
        INSERT INTO tasks_leadlink (lead_id, batch_id, task_id)
        SELECT il.id, %(batch)s, coalesce(ip.task_id, n.id)
        FROM intake_lead il
        JOIN intake_person ip ON ip.person_key = il.person_key
        LEFT JOIN intake_new_task n ON n.person_id = ip.person_id
        """,
        {"batch": batch.id},
    )
    if cursor.rowcount != claimed:
        raise IntakeIntegrityError(
            f"claimed {claimed} leads but could consume {cursor.rowcount}; rolled back"
        )
