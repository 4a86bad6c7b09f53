"""The likely-duplicate job: proposes pairs of open persons that may be one person (docs/people.md).

Persons are matched on exact keyed hashes at intake; one person reported by name and phone by one source
and by ID by another becomes two persons. The job finds such pairs among the persons with an open task,
in SQL over the blind indexes and non-identifying features, never decrypting the table:

* `same_phone`: the same phone hash and a similar name (equal, or the same surname, or one of them
  without a name);
* `pinyin_name_same_village`: names that sound the same (pinyin without tones: 张伟 / 章伟) with open
  tasks in the same village;
* `id_learned_later`: a lead of one person's task carries the ID number (its hash) that is another
  person's key;
* `same_name_birth_date`: the same name and the same birth date read from two different documents (a
  typo in one ID number), on the keyed hash of both (`Person.name_birth_hash`, set at intake).

Each pair is stored once (unique, ordered ids), with every rule that found it. A dismissed pair keeps its
row and is never proposed again; a merged one neither. The job is idempotent and takes an advisory lock,
so the nightly run and an on-demand run cannot overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, RE_HANS

from .crypto import decrypt
from .models import ACTIVE_STATUSES, DuplicateCandidate, DuplicateState, Lead, LeadLink, Person, TracingTask
from .roles import can
from .selectors import tasks_visible_to
from .validation import name_hash, name_key, sound_hash
from .worktypes import task_merge

LOCK_KEY = 0x6475_706C  # "dupl"
PINYIN_BATCH = 20_000


@dataclass(frozen=True)
class ScanResult:
    ran: bool
    pinyin_filled: int = 0
    proposed: int = 0


# pypinyin's own pattern of a run of Chinese characters, unanchored.
_HAN_RUNS = re.compile(RE_HANS.pattern.removeprefix("^").removesuffix("$"))


@cache  # bounded by the characters there are
def _char_sound(char: str) -> str:
    return "".join(lazy_pinyin(char, style=Style.NORMAL, errors="default"))


@lru_cache(maxsize=65_536)
def _run_sound(run: str) -> str:
    # pypinyin reads a run character by character unless part of it is a phrase of its dictionary
    # (长孙, 银行): then the run goes through pypinyin whole. One lazy_pinyin call per name cost ~19 s of
    # the job over 100,000 new names; a lookup per character is a few µs.
    n = len(run)
    if n > 1 and any(run[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1)):
        return "".join(lazy_pinyin(run, style=Style.NORMAL, errors="default"))
    return "".join(map(_char_sound, run))


def name_sound(name: str) -> str:
    """The name's pinyin without tones, space-free (exactly what `lazy_pinyin(name, Style.NORMAL)`
    joined gives; other characters are kept as they are); '' for an empty name."""
    if not name:
        return ""
    parts, pos = [], 0
    for match in _HAN_RUNS.finditer(name):
        parts.append(name[pos : match.start()])
        parts.append(_run_sound(match.group()))
        pos = match.end()
    parts.append(name[pos:])
    return "".join(parts).lower().replace(" ", "")[:120]


def _open_persons_sql() -> str:
    statuses = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    return f"SELECT DISTINCT person_id FROM {TracingTask._meta.db_table} WHERE status IN ({statuses})"


def _fill_pinyin(cursor) -> int:
    """The keyed hashes of the sound and of the surname of the open persons' names not computed yet, in
    batches (the names decrypted in Python; one UPDATE … FROM unnest each)."""
    filled = 0
    while True:
        cursor.execute(
            f"""SELECT p.id, p.name FROM {Person._meta.db_table} p
                WHERE p.name_sound_hash = '' AND p.name <> '' AND p.id IN ({_open_persons_sql()})
                LIMIT {PINYIN_BATCH}"""
        )
        rows = cursor.fetchall()
        if not rows:
            return filled
        ids = [row[0] for row in rows]
        names = [name_key(decrypt(row[1])) for row in rows]
        # A name without any sound (digits, latin letters only) still gets a value: its lower-case self.
        sounds = [sound_hash(name_sound(name) or name.lower()[:120] or "-") for name in names]
        surnames = [name_hash(name[:1]) or "-" for name in names]
        cursor.execute(
            f"""UPDATE {Person._meta.db_table} p SET name_sound_hash = v.sound, surname_hash = v.surname
                FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, sound, surname) WHERE p.id = v.id""",
            [ids, sounds, surnames],
        )
        filled += len(rows)
        if len(rows) < PINYIN_BATCH:
            return filled


def _propose_sql() -> str:
    person, task = Person._meta.db_table, TracingTask._meta.db_table
    lead, link = Lead._meta.db_table, LeadLink._meta.db_table
    statuses = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    return f"""
    WITH open_tasks AS MATERIALIZED (
        SELECT DISTINCT ON (person_id) person_id, division_id FROM {task}
        WHERE status IN ({statuses}) ORDER BY person_id, id
    ),
    open_persons AS MATERIALIZED (
        SELECT p.id, p.name = '' AS nameless, p.name_hash, p.name_sound_hash, p.surname_hash, p.phone_hash,
               p.id_number_hash, p.person_key, p.name_birth_hash, o.division_id
        FROM {person} p JOIN open_tasks o ON o.person_id = p.id
    ),
    pairs AS (
        SELECT least(a.id, b.id) AS a_id, greatest(a.id, b.id) AS b_id, 'same_phone' AS rule,
               a.name_hash = b.name_hash AND NOT a.nameless AS same_characters, NULL::text AS division_id
        FROM open_persons a JOIN open_persons b ON b.phone_hash = a.phone_hash AND b.id > a.id
        WHERE a.phone_hash <> ''
          AND (a.name_hash = b.name_hash OR a.nameless OR b.nameless
               OR (a.surname_hash = b.surname_hash AND a.surname_hash <> ''))
        UNION ALL
        SELECT a.id, b.id, 'pinyin_name_same_village', a.name_hash = b.name_hash AND NOT a.nameless, a.division_id
        FROM open_persons a
        JOIN open_persons b ON b.division_id = a.division_id AND b.name_sound_hash = a.name_sound_hash AND b.id > a.id
        WHERE a.name_sound_hash <> '' AND length(a.division_id) = 12
        UNION ALL
        SELECT least(a.id, b.id), greatest(a.id, b.id), 'id_learned_later', a.name_hash = b.name_hash AND NOT a.nameless,
               NULL
        FROM open_persons a
        JOIN {task} t ON t.person_id = a.id AND t.status IN ({statuses})
        JOIN {link} k ON k.task_id = t.id
        JOIN {lead} l ON l.id = k.lead_id AND l.id_number_hash <> ''
        JOIN open_persons b ON b.person_key = 'id:' || l.id_number_hash AND b.id <> a.id
        UNION ALL
        SELECT a.id, b.id, 'same_name_birth_date', a.name_hash = b.name_hash AND NOT a.nameless, NULL
        FROM open_persons a JOIN open_persons b ON b.name_birth_hash = a.name_birth_hash AND b.id > a.id
        WHERE a.name_birth_hash <> ''
    ),
    grouped AS (
        SELECT a_id, b_id, array_agg(DISTINCT rule ORDER BY rule) AS rules,
               bool_or(same_characters) AS same_characters, max(division_id) AS division_id
        FROM pairs GROUP BY a_id, b_id
    )
    INSERT INTO {DuplicateCandidate._meta.db_table}
        (person_a_id, person_b_id, rules, evidence, state, created_at)
    SELECT a_id, b_id, to_jsonb(rules),
           jsonb_strip_nulls(jsonb_build_object('same_characters', same_characters, 'division', division_id)),
           'open', %(now)s
    FROM grouped
    ON CONFLICT (person_a_id, person_b_id) DO NOTHING
    """


def find_duplicates(*, now: datetime | None = None) -> ScanResult:
    """One run of the job; returns ran=False when another run holds the lock."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return ScanResult(ran=False)
        filled = _fill_pinyin(cursor)
        cursor.execute(_propose_sql(), {"now": now})
        return ScanResult(ran=True, pinyin_filled=filled, proposed=cursor.rowcount)


# --- the review queue -------------------------------------------------------------------------------


def candidates_visible_to(user) -> QuerySet[DuplicateCandidate]:
    """Open pairs whose two persons both have an open task in the user's territory."""
    open_tasks = tasks_visible_to(user).filter(status__in=ACTIVE_STATUSES)
    persons = open_tasks.values("person_id")
    return DuplicateCandidate.objects.filter(
        state=DuplicateState.OPEN, person_a_id__in=persons, person_b_id__in=persons
    ).order_by("-created_at", "-id")


def open_task_of(user, person_id: int) -> TracingTask | None:
    return (
        tasks_visible_to(user)
        .filter(person_id=person_id, status__in=ACTIVE_STATUSES)
        .order_by("created_at", "id")
        .first()
    )


def _decide(candidate: DuplicateCandidate, state: str, actor, now: datetime) -> DuplicateCandidate:
    updated = DuplicateCandidate.objects.filter(pk=candidate.pk, state=DuplicateState.OPEN).update(
        state=state, decided_at=now, decided_by=actor
    )
    if not updated:
        raise ValidationError({"state": _("This pair was already decided.")})
    candidate.refresh_from_db()
    return candidate


@transaction.atomic
def duplicate_dismiss(
    *, candidate: DuplicateCandidate, actor, now: datetime | None = None
) -> DuplicateCandidate:
    """ "Not the same person": remembered, never proposed again."""
    if not can(actor, "task.merge"):
        raise PermissionDenied
    return _decide(candidate, DuplicateState.DISMISSED, actor, now or timezone.now())


@transaction.atomic
def duplicate_merge(
    *,
    candidate: DuplicateCandidate,
    keep_person_id: int,
    actor,
    reason: str = "",
    now: datetime | None = None,
) -> TracingTask:
    """Merge the pair through the task merge (work types): the open task of the other person merges into
    the open task of the person kept, and so do the two person records."""
    now = now or timezone.now()
    if keep_person_id not in (candidate.person_a_id, candidate.person_b_id):
        raise ValidationError({"keep": _("must be one of the two persons of the pair")})
    other_id = candidate.person_b_id if keep_person_id == candidate.person_a_id else candidate.person_a_id
    keep_task, merge_task = open_task_of(actor, keep_person_id), open_task_of(actor, other_id)
    if keep_task is None or merge_task is None:
        raise ValidationError({"keep": _("Both persons need an open task in your territory to be merged.")})
    _decide(candidate, DuplicateState.MERGED, actor, now)
    reason = reason.strip() or _("likely duplicate %(id)s confirmed") % {"id": candidate.pk}
    return task_merge(keep=keep_task, merge=merge_task, actor=actor, reason=reason, now=now)
