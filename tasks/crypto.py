"""Encryption at rest of resident ID numbers and phone numbers (issue 9 item 3; docs/encryption.md).

Values are encrypted with AES-256-GCM (`cryptography`'s AESGCM) in Python before they reach
PostgreSQL, and stored as a text envelope::

    e1:<key id>:<urlsafe base64 of nonce (12 bytes) + ciphertext + tag (16 bytes)>

- `e1` is the envelope version; `<key id>` is 8 hex characters naming the key that encrypted the value
  (a fingerprint of the key, not the key), so several keys can be readable at once (rotation).
- Keys come from settings.FIELD_ENCRYPTION_KEYS (environment variable of the same name): a
  comma-separated list of 32-byte urlsafe-base64 keys (the format of `Fernet.generate_key()`); the first
  one encrypts, all of them decrypt. `python manage.py rotate_encryption_keys` re-encrypts every stored
  value with the first key, after which the old keys can be dropped.
- Empty values stay empty strings (never encrypted), so "is there an ID?" checks keep working in SQL;
  the preferred check is on the blind index (`id_number_hash <> ''`).
- AES-GCM rather than Fernet: Fernet (AES-CBC + HMAC-SHA256 in Python) costs ~12 µs a value against
  ~1.7 µs here, which is 20+ s on the 1,000,000-row import (two fields a lead) with a 60 s target.
- The ciphertext length grows with the plaintext length (GCM is a stream mode; the envelope header is
  fixed): an 18-character ID gives a longer envelope than a 15-digit one. The intake consolidation
  relies on this to prefer the 18-digit form (`length(id_number)` of two envelopes of the same version).
- Matching never uses these columns: it uses the HMAC "blind index" columns (`id_number_hash`,
  `phone_hash`, `person_key`, keyed with settings.PERSON_HASH_KEY, see validation.py). Filtering an
  encrypted field by a non-empty value raises FieldError instead of silently matching nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models.lookups import Exact, IsNull

PREFIX = "e1:"
Log = Callable[[str], Any]
_NONCE = 12
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class DecryptionError(ImproperlyConfigured):
    """A stored value cannot be decrypted with the configured keys (key removed too early, wrong keys,
    or a tampered value). Raised loudly: never returned as if it were the plaintext."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"tcc-field-key-id|" + key).hexdigest()[:8]


def parse_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: each key must be 32 bytes in urlsafe base64 (44 characters), e.g. the output of "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        )
    return raw


class Keyring:
    def __init__(self, keys: list[str] | tuple[str, ...]):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        parsed = [parse_key(k) for k in keys if k.strip()]
        if not parsed:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: give at least one key.")
        self.current_id = key_id(parsed[0])
        self.ciphers: dict[str, Any] = {}
        for raw in parsed:
            self.ciphers.setdefault(key_id(raw), AESGCM(raw))
        self.current = self.ciphers[self.current_id]
        self.current_prefix = f"{PREFIX}{self.current_id}:"

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        # base64.urlsafe_b64encode without its two Python-level calls (hot: two values a lead on import).
        blob = nonce + self.current.encrypt(nonce, plaintext.encode(), None)
        return self.current_prefix + binascii.b2a_base64(blob, newline=False).translate(_URLSAFE).decode()

    def decrypt(self, token: str) -> str:
        kid = token[len(PREFIX) : len(PREFIX) + 8]
        cipher = self.ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"a value is encrypted with key id {kid}, which is not in FIELD_ENCRYPTION_KEYS "
                f"(configured: {', '.join(self.ciphers)}); add the old key back after the current one "
                "and run manage.py rotate_encryption_keys before removing it"
            )
        try:
            blob = base64.urlsafe_b64decode(token[len(PREFIX) + 9 :])
            return cipher.decrypt(blob[:_NONCE], blob[_NONCE:], None).decode()
        except Exception as exc:  # InvalidTag, bad base64, bad UTF-8
            raise DecryptionError(
                f"a value encrypted with key id {kid} does not decrypt (tampered or corrupt): {type(exc).__name__}"
            ) from None

    def encrypt_bytes(self, data: bytes) -> bytes:
        """A file's bytes: FILE_MAGIC + key id (8 ASCII) + nonce + ciphertext and tag (AES-256-GCM)."""
        nonce = os.urandom(_NONCE)
        return FILE_MAGIC + self.current_id.encode() + nonce + self.current.encrypt(nonce, data, None)

    def decrypt_bytes(self, blob: bytes) -> bytes:
        if not blob.startswith(FILE_MAGIC):
            raise DecryptionError("the file is not encrypted by this application")
        head = len(FILE_MAGIC)
        kid = blob[head : head + 8].decode("ascii", errors="replace")
        cipher = self.ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"a file is encrypted with key id {kid}, which is not in FIELD_ENCRYPTION_KEYS"
            )
        nonce = blob[head + 8 : head + 8 + _NONCE]
        try:
            return cipher.decrypt(nonce, blob[head + 8 + _NONCE :], None)
        except Exception as exc:  # InvalidTag
            raise DecryptionError(
                f"a file encrypted with key id {kid} does not decrypt: {type(exc).__name__}"
            ) from None


# Uploaded files (lead lists waiting for their preview to be confirmed) are kept encrypted on disk.
FILE_MAGIC = b"TCF1"

_keyring_cache: tuple[Any, Keyring] | None = None


def keyring() -> Keyring:
    global _keyring_cache
    keys = settings.FIELD_ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = [k for k in keys.split(",")]
    marker = tuple(keys)
    if _keyring_cache is None or _keyring_cache[0] != marker:
        _keyring_cache = (marker, Keyring(list(marker)))
    return _keyring_cache[1]


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(value: str | None) -> str:
    """The envelope of `value`; '' (and None) stay ''; an envelope is returned unchanged."""
    if not value:
        return ""
    if value.startswith(PREFIX):
        return value
    return keyring().encrypt(value)


def decrypt(value: str | None) -> str:
    """The plaintext of an envelope; '' stays ''. A value without the envelope prefix is legacy plaintext
    (written before encryption was deployed, see docs/encryption.md) and is returned as is."""
    if not value:
        return ""
    if not value.startswith(PREFIX):
        return value
    return keyring().decrypt(value)


def reencrypt(value: str) -> str | None:
    """The value encrypted with the current key, or None when it already is (rotation)."""
    if not value:
        return None
    ring = keyring()
    if value.startswith(ring.current_prefix):
        return None
    return ring.encrypt(decrypt(value))


# --- rejected rows ---------------------------------------------------------------------------------------

PROTECTED_ROW_KEYS = ("id_number", "phone", "name", "address")


def protect_row(row: Any) -> Any:
    """A rejected lead row as stored in LeadRejection.row: `id_number`, `phone`, `name` and `address` encrypted (they can
    be decrypted to correct the row), a row that is not an object encrypted whole."""
    if isinstance(row, dict):
        out = dict(row)
        for name in PROTECTED_ROW_KEYS:
            value = out.get(name)
            if value not in (None, ""):
                out[name] = encrypt(
                    value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                )
        return out
    if row is None:
        return row
    return {"encrypted_row": encrypt(json.dumps(row, ensure_ascii=False, default=str))}


def reveal_row(row: Any) -> Any:
    if isinstance(row, dict):
        if set(row) == {"encrypted_row"}:
            return json.loads(decrypt(row["encrypted_row"]))
        return {k: decrypt(v) if k in PROTECTED_ROW_KEYS and is_encrypted(v) else v for k, v in row.items()}
    return row


# --- model field -----------------------------------------------------------------------------------------


class _Encrypted:
    """The database side of an encrypted text field: a `text` column holding the envelope; model
    instances always hold plaintext. Only `isnull` and `exact` with '' are allowed as lookups: match on
    the blind-index column."""

    description = "Text encrypted at rest (AES-256-GCM)"
    encrypted_at_rest = True

    def db_type(self, connection):
        return "text"

    def cast_db_type(self, connection):
        return "text"

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)  # type: ignore[misc]
        if value is None:
            return None
        return encrypt(str(value))

    def get_lookup(self, lookup_name):
        if lookup_name not in ("exact", "isnull"):
            return None
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedCharField(_Encrypted, models.CharField):
    """A CharField encrypted at rest: `max_length` limits the plaintext (forms, full_clean)."""


class EncryptedTextField(_Encrypted, models.TextField):
    """A TextField encrypted at rest (addresses, free text naming people or places)."""


class EncryptedExact(Exact):
    lookup_name = "exact"

    def get_prep_lookup(self):
        if self.rhs not in ("", None) and not hasattr(self.rhs, "resolve_expression"):
            raise FieldError(
                f"{self.lhs.output_field.name} is encrypted: filter on the HMAC blind-index column "
                "(id_number_hash / phone_hash, tasks.validation) instead of the value"
            )
        return super().get_prep_lookup()


for _field_class in (EncryptedCharField, EncryptedTextField):
    _field_class.register_lookup(EncryptedExact)
    _field_class.register_lookup(IsNull)


class EncryptedKeysJSONField(models.JSONField):
    """A JSON object whose string values under `encrypted_keys` (top level) are encrypted in the database;
    Python code sees plaintext. Other keys, and values that are not strings, are stored as they are."""

    encrypted_at_rest = True

    def __init__(self, *args, encrypted_keys: tuple[str, ...] = (), **kwargs):
        self.encrypted_keys = tuple(encrypted_keys)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["encrypted_keys"] = self.encrypted_keys
        return name, path, args, kwargs

    def map_keys(self, value: Any, convert: Callable[[str], str]) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            k: convert(v) if k in self.encrypted_keys and isinstance(v, str) else v for k, v in value.items()
        }

    def get_prep_value(self, value):
        return super().get_prep_value(self.map_keys(value, encrypt))

    def from_db_value(self, value, expression, connection):
        return self.map_keys(super().from_db_value(value, expression, connection), decrypt)


def rotate_json_keys(model: type[models.Model], *, batch_size: int = 5000, log: Log | None = None) -> int:
    """Re-encrypt the values of the EncryptedKeysJSONField fields of `model` with the current key (and
    encrypt plaintext left from before the field encrypted)."""
    total = 0
    for f in model._meta.concrete_fields:
        if isinstance(f, EncryptedKeysJSONField):
            keys = ", ".join(f"'{k}'" for k in f.encrypted_keys)
            total += rotate_json(
                model,
                f.column,
                lambda value, field=f: field.map_keys(value, current_key),
                where=f"{f.column} ?| array[{keys}]",
                batch_size=batch_size,
                log=log,
            )
    return total


def audit_mask(value: str) -> str:
    """django-auditlog's mask for the encrypted fields (tasks/apps.py): the change history records THAT
    an ID number or phone changed, never any part of it (auditlog's default mask keeps the last half).
    auditlog compares the decrypted values, so re-encryption (rotation) logs no change."""
    return "" if value in ("", "None", None) else "********"


# --- rotation (manage.py rotate_encryption_keys) -----------------------------------------------------------


def is_encrypted_field(field: models.Field) -> bool:
    """Whether a model field stores its value encrypted at rest (this module's field classes, and any
    field class of another app that says so with `encrypted_at_rest = True`)."""
    return bool(getattr(field, "encrypted_at_rest", False))


def rotate_stored_values(*, batch_size: int = 5000, log: Log | None = None) -> dict[str, int]:
    """Re-encrypt with the current key (the first of FIELD_ENCRYPTION_KEYS) every stored value that is
    not already encrypted with it: values of older keys, and plaintext written before encryption was
    deployed. What is encrypted where is declared by each app to the lifecycle registry
    (tasks/lifecycle.py); this runs each registration's `reencrypt` in the order registered. Each batch
    commits on its own: the command is resumable and idempotent (a second run finds nothing to do).
    Returns rows updated per table. Raises DecryptionError, before writing that batch, when a value's
    key is not configured."""
    from . import lifecycle

    done: dict[str, int] = {}
    for registration in lifecycle.registrations():
        if registration.reencrypt is not None:
            done[registration.table] = registration.reencrypt(
                registration.model, batch_size=batch_size, log=log
            )
    return done


def rewrite_in_batches(
    table: str,
    select: str,
    write: Callable[[Any, list[tuple]], int],
    *,
    batch_size: int,
    log: Log | None,
    params: dict[str, Any] | None = None,
    noun: str = "rows rewritten",
) -> int:
    """The keyset walk of the rotations: `select` returns rows, id first, `WHERE … id > %(after)s …
    ORDER BY id LIMIT %(limit)s`; `write(cursor, rows)` writes the batch (one `UPDATE … FROM unnest(…)`)
    and returns the rows it wrote. Each batch is one transaction: an interrupted walk keeps the batches
    before and is simply run again. Returns the rows written."""
    from django.db import connection, transaction

    after, total = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, {**(params or {}), "after": after, "limit": batch_size})
            rows = cursor.fetchall()
            if not rows:
                return total
            total += write(cursor, rows)
            after = rows[-1][0]
        if log:
            log(f"{table}: {total} {noun} (up to id {after})")


def rotate_columns(model: type[models.Model], *, batch_size: int = 5000, log: Log | None = None) -> int:
    """Re-encrypt the encrypted text columns of `model` (its EncryptedCharField fields). Set-based: per batch,
    one SELECT of ids and values (keyset on id), re-encryption in Python, one UPDATE … FROM unnest(…)
    that only touches rows whose values are still the ones read (a concurrent edit wins; the next run
    picks the row up). Returns the rows updated."""
    table = model._meta.db_table
    # Text columns holding one envelope each (EncryptedCharField and any text field class marked
    # encrypted_at_rest); envelopes inside JSON need their own walk (rotate_json).
    columns = [
        f.column
        for f in model._meta.concrete_fields
        if is_encrypted_field(f) and not isinstance(f, models.JSONField) and f.column
    ]
    if not columns:
        return 0
    ring = keyring()
    prefix = ring.current_prefix
    stale = " OR ".join(f"({c} <> '' AND left({c}, {len(prefix)}) <> %(prefix)s)" for c in columns)
    select = f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > %(after)s AND ({stale}) ORDER BY id LIMIT %(limit)s"
    sets = ", ".join(f"{c} = u.new_{c}" for c in columns)
    arrays = ", ".join("%s::text[], %s::text[]" for _ in columns)
    names = ", ".join(f"old_{c}, new_{c}" for c in columns)
    same = " AND ".join(f"t.{c} = u.old_{c}" for c in columns)
    update = f"UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS u(id, {names}) WHERE t.id = u.id AND {same}"

    def write(cursor: Any, rows: list[tuple]) -> int:
        params: list[Any] = [[r[0] for r in rows]]
        for i in range(len(columns)):
            old = [r[1 + i] for r in rows]
            params += [old, [v if (not v or v.startswith(prefix)) else ring.encrypt(decrypt(v)) for v in old]]
        cursor.execute(update, params)
        return cursor.rowcount

    return rewrite_in_batches(
        table,
        select,
        write,
        batch_size=batch_size,
        log=log,
        params={"prefix": prefix},
        noun="rows re-encrypted",
    )


def rotate_json(
    model: type[models.Model],
    column: str,
    current: Callable[[Any], Any],
    *,
    where: str = "TRUE",
    batch_size: int = 5000,
    log: Log | None = None,
    noun: str = "rows",
) -> int:
    """Re-encrypt the envelopes inside the jsonb `column` of `model`: `current(value)` returns the value
    with every envelope under the current key (the same value when it already is). Keyset batches, one
    transaction each; a row changed meanwhile is left for the next run. Returns the rows updated."""
    table = model._meta.db_table
    select = (
        f"SELECT id, {column} FROM {table} WHERE id > %(after)s AND ({where}) ORDER BY id LIMIT %(limit)s"
    )
    update = (
        f"UPDATE {table} t SET {column} = u.new::jsonb FROM unnest(%s::bigint[], %s::text[], %s::text[]) "
        f"AS u(id, old, new) WHERE t.id = u.id AND t.{column} = u.old::jsonb"
    )

    def write(cursor: Any, rows: list[tuple]) -> int:
        # Django's psycopg backend loads jsonb as text.
        values = [(pk, json.loads(v) if isinstance(v, str) else v) for pk, v in rows]
        changed = [(pk, value, new) for pk, value in values if (new := current(value)) != value]
        if not changed:
            return 0
        cursor.execute(
            update,
            [
                [c[0] for c in changed],
                [json.dumps(c[1], ensure_ascii=False) for c in changed],
                [json.dumps(c[2], ensure_ascii=False) for c in changed],
            ],
        )
        return cursor.rowcount

    return rewrite_in_batches(
        table, select, write, batch_size=batch_size, log=log, noun=f"{noun} re-encrypted"
    )


def current_key(value: str) -> str:
    """`value` (an envelope, plaintext or '') encrypted with the current key; unchanged when it is."""
    ring = keyring()
    return value if not value or value.startswith(ring.current_prefix) else ring.encrypt(decrypt(value))


def _row_current(row: Any, prefix: str) -> bool:
    if not isinstance(row, dict):
        return row is None
    values = [row.get(k) for k in (*PROTECTED_ROW_KEYS, "encrypted_row")]
    return all(v in (None, "") or (isinstance(v, str) and v.startswith(prefix)) for v in values)


def rotate_rejections(model: type[models.Model], *, batch_size: int = 5000, log: Log | None = None) -> int:
    """Re-encrypt the protected values of rejected intake rows (LeadRejection.row, see protect_row)."""
    prefix = keyring().current_prefix
    return rotate_json(
        model,
        "row",
        lambda row: row if _row_current(row, prefix) else protect_row(reveal_row(row)),
        where="jsonb_typeof(row) NOT IN ('object', 'null') OR row ?| array['id_number', 'phone', 'name', 'address', "
        "'encrypted_row']",
        batch_size=batch_size,
        log=log,
    )
