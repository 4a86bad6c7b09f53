"""Recompute the keyed hashes (the blind index, docs/encryption.md "Blind index") with the current
settings.PERSON_HASH_KEY: `manage.py rotate_person_hash_key`, run in a maintenance window after the key
was changed.

Every hash is recomputed from the decrypted values with the functions that write it (tasks/validation.py),
never from the old hash: the command does not need the old key, and every run recomputes everything.
It is therefore idempotent (a run with the key already in place writes nothing: the UPDATE only touches
rows whose values differ) and an interrupted run is simply run again. What each app stores is declared to
the lifecycle registry (`rehash=`, tasks/lifecycle.py): persons and leads here (tasks/personal_data.py),
lab results and check-in SMS in monitoring/lifecycle.py, notices in notices/lifecycle.py.

Batches by id: one SELECT, the hashes computed in Python, one `UPDATE … FROM unnest(…)` of the rows
that changed; each batch commits on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .crypto import decrypt, rewrite_in_batches
from .lifecycle import Log
from .validation import (
    RESIDENT_ID,
    clean_document,
    id_number_hash,
    name_birth_hash,
    name_hash,
    person_key,
    phone_hash,
)


@dataclass
class Rehashed:
    """What one table got: rows updated, and rows left or emptied for a reason (reason -> rows)."""

    updated: int = 0
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str) -> None:
        self.notes[reason] = self.notes.get(reason, 0) + 1


# Compute returns the new values of the hash columns (in their order), or None to leave the row alone.
Compute = Callable[[tuple, Rehashed], Sequence[str] | None]


def document_text(id_type: str, number: str) -> str | None:
    """The text a stored document number's blind index is computed from (as validation computes it),
    or None when the stored number no longer passes validation (its hashes cannot be recomputed)."""
    try:
        return clean_document(id_type or RESIDENT_ID, number)[1]
    except ValueError:
        return None


def rehash_rows(
    table: str,
    *,
    select: str,
    columns: Sequence[str],
    compute: Compute,
    batch_size: int,
    log: Log | None,
    unique: str = "",
    result: Rehashed | None = None,
) -> Rehashed:
    """Keyset batches over `table`: `select` (parameters %(after)s, %(limit)s) returns the id, the
    current values of `columns`, then whatever `compute` needs, ordered by id. With `unique`, a row whose
    new value of that column another row already holds is left as it was and reported."""
    result = result or Rehashed()
    n = len(columns)
    sets = ", ".join(f"{c} = u.{c}" for c in columns)
    arrays = ", ".join("%s::text[]" for _ in columns)
    names = ", ".join(columns)
    update = (
        f"UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS u(id, {names}) "
        f"WHERE t.id = u.id AND ({', '.join(f't.{c}' for c in columns)}) IS DISTINCT FROM "
        f"({', '.join(f'u.{c}' for c in columns)})"
    )
    if unique:
        update += f" AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.{unique} = u.{unique} AND o.id <> t.id)"
    position = columns.index(unique) if unique else -1

    def write(cursor: Any, rows: list[tuple]) -> int:
        changed: list[tuple] = []
        taken: set[str] = set()
        for row in rows:
            new = compute(row, result)
            if new is None or tuple(new) == tuple(row[1 : 1 + n]):
                continue
            if position >= 0:
                if new[position] in taken:
                    result.note(f"left as they were: another row of this batch gets the same {unique}")
                    continue
                taken.add(new[position])
            changed.append((row[0], *new))
        if not changed:
            return 0
        updated = _write(cursor, update, changed)
        if updated < len(changed):
            # Only `unique` can refuse a row that differs (a maintenance window: no concurrent writer).
            reason = f"left as they were: the recomputed {unique} belongs to another row"
            result.notes[reason] = result.notes.get(reason, 0) + len(changed) - updated
        return updated

    result.updated += rewrite_in_batches(
        table, select, write, batch_size=batch_size, log=log, noun="rows updated"
    )
    return result


def _write(cursor: Any, update: str, changed: list[tuple]) -> int:
    """One UPDATE of the batch's changed rows; returns the rows written (a seam for the tests of an
    interrupted run)."""
    cursor.execute(update, [list(column) for column in zip(*changed, strict=True)])
    return cursor.rowcount


# --- persons and leads ------------------------------------------------------------------------------------

# The old and the new keys are HMACs under different keys: a new key equal to another row's old key
# (a transient collision on the unique person_key while a batch runs) would be an HMAC-SHA256 collision,
# which does not happen in practice. A real conflict (two persons edited by hand into the same document
# or phone + name) is left as it was and reported (`unique=`), never a failed batch.


def _identity_hashes(old: tuple, id_type: str, number: str, phone: str, name: str, result: Rehashed):
    """(person_key, id_number_hash, phone_hash, name_hash, name_birth_hash) of a person or a lead;
    `old` is the row as selected: id, then these five as stored."""
    row_key, old_id_hash, old_nb = old[1], old[2], old[5]
    id18: str | None = ""
    if number:
        id18 = document_text(id_type, number)
        if id18 is None:
            # Cannot be hashed as validation would (a number stored before a rule existed): the hashes of
            # the document are left as they were (they no longer match anything), the others recomputed.
            result.note("document hashes left as they were: the stored document number does not validate")
    if id18 is None:
        id_hash, nb = old_id_hash, old_nb
    else:
        id_hash = id_number_hash(id18) if id18 else ""
        # Recomputed where it was set: the intake sets it only from a lead whose name is the person's, and
        # a run with the same key must change nothing.
        nb = name_birth_hash(name, id18) if old_nb and id18 and name else ""
    key = row_key
    # The kind of key is kept ("id:" stays a document key, "pn:" a phone + name key): the pending leads of
    # a person carry the same kind, and "lead:", "merged:", "purged:" (and tests') keys are not hashes.
    if row_key.startswith("id:"):
        if id18:
            key = "id:" + id_hash
        elif id18 == "":
            result.note("person_key left as it was: an id: key without a document number")
    elif row_key.startswith("pn:"):
        if phone:
            key = person_key(phone=phone, name=name)
        else:
            result.note("person_key left as it was: a pn: key without a phone")
    return key, id_hash, phone_hash(phone) if phone else "", name_hash(name), nb


def rehash_persons(model, *, batch_size: int, log: Log | None) -> Rehashed:
    table = model._meta.db_table

    def compute(row: tuple, result: Rehashed):
        hashes = _identity_hashes(row, row[8], decrypt(row[9]), decrypt(row[10]), decrypt(row[11]), result)
        # The duplicate job's hashes are emptied: it refills them (tasks/duplicates.py, _fill_pinyin).
        return (*hashes, "", "")

    return rehash_rows(
        table,
        select=f"""SELECT id, person_key, id_number_hash, phone_hash, name_hash, name_birth_hash, name_sound_hash,
                          surname_hash, id_type, id_number, phone, name
                   FROM {table} WHERE id > %(after)s ORDER BY id LIMIT %(limit)s""",
        columns=[
            "person_key",
            "id_number_hash",
            "phone_hash",
            "name_hash",
            "name_birth_hash",
            "name_sound_hash",
            "surname_hash",
        ],
        compute=compute,
        batch_size=batch_size,
        log=log,
        unique="person_key",
    )


def rehash_leads(model, *, batch_size: int, log: Log | None) -> Rehashed:
    """A lead's key is recomputed from its own values, as validation computed it: a pending lead then
    carries the key its person gets (the person's values came from such a lead). A consumed lead whose
    key a merge rewrote (tasks/worktypes.py) gets the key of its own values: only pending leads are
    matched on their key."""
    table = model._meta.db_table

    def compute(row: tuple, result: Rehashed):
        return _identity_hashes(row, row[6], decrypt(row[7]), decrypt(row[8]), decrypt(row[9]), result)

    return rehash_rows(
        table,
        select=f"""SELECT id, person_key, id_number_hash, phone_hash, name_hash, name_birth_hash,
                          id_type, id_number, phone, name
                   FROM {table} WHERE id > %(after)s ORDER BY id LIMIT %(limit)s""",
        columns=["person_key", "id_number_hash", "phone_hash", "name_hash", "name_birth_hash"],
        compute=compute,
        batch_size=batch_size,
        log=log,
    )


def rehash_person_phone(model, *, person_join: str, batch_size: int, log: Log | None, what: str) -> Rehashed:
    """`phone_hash` of rows that store the hash of the number a message went to, without the number:
    recomputed from their person's current phone (`person_join` joins `tasks_person p` to the row `t`).
    A row whose person has no phone any more is emptied (reported)."""
    table = model._meta.db_table

    def compute(row: tuple, result: Rehashed):
        phone = decrypt(row[2])
        if not phone:
            result.note(f"phone_hash emptied: the person has no phone any more ({what})")
            return ("",)
        return (phone_hash(phone),)

    return rehash_rows(
        table,
        select=f"""SELECT t.id, t.phone_hash, p.phone FROM {table} t {person_join}
                   WHERE t.id > %(after)s AND t.phone_hash <> '' ORDER BY t.id LIMIT %(limit)s""",
        columns=["phone_hash"],
        compute=compute,
        batch_size=batch_size,
        log=log,
    )


def rehash_stored_hashes(*, batch_size: int = 5000, log: Log | None = None) -> dict[str, Rehashed]:
    """Every registration's `rehash`, in the order registered (tasks first). Returns per table."""
    from . import lifecycle

    done: dict[str, Rehashed] = {}
    for registration in lifecycle.registrations():
        if registration.rehash is not None:
            done[registration.table] = registration.rehash(registration.model, batch_size=batch_size, log=log)
    return done
