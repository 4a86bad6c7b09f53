"""Names, addresses, places and companions in report snapshots are encrypted at rest too (docs/encryption.md):
the stored snapshots are re-encrypted in batches with the first key of FIELD_ENCRYPTION_KEYS (the
person's name and address, each close contact's name and place, each trajectory entry's place, address
and companions; the ID numbers and phones as before). Self-contained like 0003. Reversing decrypts the
new keys again (the ID numbers and phones stay encrypted, as 0003 left them)."""

import base64
import hashlib
import json
import os

from django.conf import settings
from django.db import migrations


_PREFIX = "e1:"
_PARTS = {
    "person": ("id_number", "phone", "name", "address"),
    "contacts": ("id_number", "phone", "name", "place"),
    "trajectory": ("place", "address", "companions"),
}
_BATCH = 1000


def _ciphers():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = settings.FIELD_ENCRYPTION_KEYS
    keys = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
    out = []
    for text in keys:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        out.append((hashlib.sha256(b"tcc-field-key-id|" + raw).hexdigest()[:8], AESGCM(raw)))
    return out


def _current():
    ciphers = _ciphers()
    kid, cipher = ciphers[0]
    head = f"{_PREFIX}{kid}:"
    readable = dict(ciphers)

    def current(value):
        if not value or value.startswith(head):
            return value
        if value.startswith(_PREFIX):
            blob = base64.urlsafe_b64decode(value[len(_PREFIX) + 9 :])
            value = (
                readable[value[len(_PREFIX) : len(_PREFIX) + 8]].decrypt(blob[:12], blob[12:], None).decode()
            )
        nonce = os.urandom(12)
        return head + base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, value.encode(), None)).decode()

    return current


def _map_keys(item, keys, convert):
    if not isinstance(item, dict):
        return item
    return {k: convert(v) if k in keys and isinstance(v, str) else v for k, v in item.items()}


def _map_snapshot(data, convert, parts):
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for part, keys in parts.items():
        value = out.get(part)
        if isinstance(value, dict):
            out[part] = _map_keys(value, keys, convert)
        elif isinstance(value, list):
            out[part] = [_map_keys(item, keys, convert) for item in value]
    return out


def _plain():
    readable = dict(_ciphers())

    def plain(value):
        if not value or not value.startswith(_PREFIX):
            return value
        blob = base64.urlsafe_b64decode(value[len(_PREFIX) + 9 :])
        return readable[value[len(_PREFIX) : len(_PREFIX) + 8]].decrypt(blob[:12], blob[12:], None).decode()

    return plain


def decrypt_new_keys(apps, schema_editor):
    new_keys = {
        part: tuple(k for k in keys if k not in ("id_number", "phone")) for part, keys in _PARTS.items()
    }
    _walk(schema_editor, _plain(), new_keys)


def encrypt_existing(apps, schema_editor):
    _walk(schema_editor, _current())


def _walk(schema_editor, current, parts=_PARTS):
    """Every stored snapshot's encrypted values converted by `current`."""
    cursor_factory = schema_editor.connection.cursor
    with cursor_factory() as cursor:
        cursor.execute("SELECT 1 FROM reports_reportversion LIMIT 1")
        if cursor.fetchone() is None:
            return
    after = 0
    with cursor_factory() as cursor:
        while True:
            cursor.execute(
                "SELECT id, data FROM reports_reportversion WHERE id > %s ORDER BY id LIMIT %s",
                [after, _BATCH],
            )
            rows = [(pk, json.loads(d) if isinstance(d, str) else d) for pk, d in cursor.fetchall()]
            if not rows:
                break
            after = rows[-1][0]
            changed = [
                (pk, data, new) for pk, data in rows if (new := _map_snapshot(data, current, parts)) != data
            ]
            if changed:
                cursor.execute(
                    "UPDATE reports_reportversion t SET data = u.new::jsonb "
                    "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(id, old, new) "
                    "WHERE t.id = u.id AND t.data = u.old::jsonb",
                    [
                        [c[0] for c in changed],
                        [json.dumps(c[1], ensure_ascii=False) for c in changed],
                        [json.dumps(c[2], ensure_ascii=False) for c in changed],
                    ],
                )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0031_kind_counts"),
        ("tasks", "0201_encrypt_field_records"),
    ]

    operations = [migrations.RunPython(encrypt_existing, decrypt_new_keys, elidable=False)]
