# Issue 9: the ID numbers and phones inside report snapshots are encrypted at rest (reports.models.SnapshotField).
"""The RunPython below is frozen here (a migration must not run app code that may change later): it
produces the envelope of tasks/crypto.py, "e1:<key id>:<base64(nonce + ct + tag)>", with the first key
of settings.FIELD_ENCRYPTION_KEYS, for the person's and each close contact's `id_number` and `phone`
(reports.models.map_snapshot at the time), like `manage.py rotate_encryption_keys` does later. The
field class is referenced by its import path, as Django's migration state requires."""

import base64
import hashlib
import json
import os

from django.conf import settings
from django.db import migrations

import reports.models

_PREFIX = "e1:"
_SNAPSHOT_ENCRYPTED = ("id_number", "phone")
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


def _map_snapshot(data, convert):
    if not isinstance(data, dict):
        return data
    out = dict(data)
    if isinstance(out.get("person"), dict):
        out["person"] = {
            k: convert(v) if k in _SNAPSHOT_ENCRYPTED and isinstance(v, str) else v
            for k, v in out["person"].items()
        }
    if isinstance(out.get("contacts"), list):
        out["contacts"] = [
            {k: convert(v) if k in _SNAPSHOT_ENCRYPTED and isinstance(v, str) else v for k, v in c.items()}
            if isinstance(c, dict)
            else c
            for c in out["contacts"]
        ]
    return out


def encrypt_existing(apps, schema_editor):
    """Every stored snapshot's identity values under the current key (plaintext becomes an envelope)."""
    cursor_factory = schema_editor.connection.cursor
    with cursor_factory() as cursor:
        cursor.execute("SELECT 1 FROM reports_reportversion LIMIT 1")
        if cursor.fetchone() is None:
            return
    current = _current()
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
            changed = [(pk, data, new) for pk, data in rows if (new := _map_snapshot(data, current)) != data]
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
        ("reports", "0002_rollup_triggers_and_indexes"),
        ("tasks", "0011_purge_run_field_counts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reportversion",
            name="data",
            field=reports.models.SnapshotField(),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
