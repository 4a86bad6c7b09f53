"""Encryption at rest of the field records' places, addresses and people (docs/encryption.md):
trajectory entries' places, addresses and companions, close contacts' names, places of last contact and
addresses, radius controls' and registrations' addresses.

The columns become `text`, then the existing rows are encrypted in batches with the first key of
FIELD_ENCRYPTION_KEYS, written out here as in 0009 (a migration does not import app code that may
change). Reversing decrypts them.
"""

import base64
import hashlib
import os

import tasks.crypto
from django.conf import settings
from django.db import migrations

_PREFIX = "e1:"
_BATCH = 5000
_TABLES = (
    ("tasks_trajectoryentry", ("place_name", "address", "companions")),
    ("tasks_closecontact", ("name", "last_contact_place", "address")),
    ("tasks_radiuscontrol", ("address",)),
    ("tasks_registration", ("address",)),
)


def _ciphers():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = settings.FIELD_ENCRYPTION_KEYS
    keys = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
    out = []
    for text in keys:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        out.append((hashlib.sha256(b"tcc-field-key-id|" + raw).hexdigest()[:8], AESGCM(raw)))
    return out


def _encrypter():
    kid, cipher = _ciphers()[0]
    head = f"{_PREFIX}{kid}:"

    def encrypt(value):
        if not value or value.startswith(_PREFIX):
            return value
        nonce = os.urandom(12)
        return head + base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, value.encode(), None)).decode()

    return encrypt


def _decrypter():
    ciphers = dict(_ciphers())

    def decrypt(value):
        if not value or not value.startswith(_PREFIX):
            return value
        blob = base64.urlsafe_b64decode(value[len(_PREFIX) + 9 :])
        return ciphers[value[len(_PREFIX) : len(_PREFIX) + 8]].decrypt(blob[:12], blob[12:], None).decode()

    return decrypt


def _convert(schema_editor, *, encrypting):
    transform = _encrypter() if encrypting else _decrypter()
    todo = "({c} <> '' AND left({c}, 3) <> 'e1:')" if encrypting else "left({c}, 3) = 'e1:'"
    with schema_editor.connection.cursor() as cursor:
        for table, columns in _TABLES:
            where = " OR ".join(todo.format(c=c) for c in columns)
            sets = ", ".join(f"{c} = u.{c}" for c in columns)
            arrays = ", ".join("%s::text[]" for _ in columns)
            after = 0
            while True:
                cursor.execute(
                    f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > %s AND ({where}) ORDER BY id LIMIT %s",
                    [after, _BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                after = rows[-1][0]
                params = [[r[0] for r in rows]] + [
                    [transform(r[1 + i]) for r in rows] for i in range(len(columns))
                ]
                cursor.execute(
                    f"UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS u(id, {', '.join(columns)}) "
                    "WHERE t.id = u.id",
                    params,
                )


def encrypt_existing(apps, schema_editor):
    _convert(schema_editor, encrypting=True)


def decrypt_existing(apps, schema_editor):
    _convert(schema_editor, encrypting=False)


def _field(cls, label, **kwargs):
    return getattr(tasks.crypto, cls)(verbose_name=label, **kwargs)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0200_encrypt_names_addresses"),
    ]

    operations = [
        migrations.AlterField(
            model_name="closecontact",
            name="address",
            field=_field("EncryptedTextField", "address", blank=True),
        ),
        migrations.AlterField(
            model_name="closecontact",
            name="last_contact_place",
            field=_field("EncryptedCharField", "place of last contact", blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name="closecontact",
            name="name",
            field=_field("EncryptedCharField", "name", blank=True, max_length=50),
        ),
        migrations.AlterField(
            model_name="radiuscontrol",
            name="address",
            field=_field("EncryptedTextField", "current address", blank=True),
        ),
        migrations.AlterField(
            model_name="registration",
            name="address",
            field=_field("EncryptedTextField", "address of stay", blank=True),
        ),
        migrations.AlterField(
            model_name="trajectoryentry",
            name="address",
            field=_field("EncryptedTextField", "address", blank=True),
        ),
        migrations.AlterField(
            model_name="trajectoryentry",
            name="companions",
            field=_field("EncryptedTextField", "companions", blank=True),
        ),
        migrations.AlterField(
            model_name="trajectoryentry",
            name="place_name",
            field=_field("EncryptedCharField", "place", max_length=200),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing, elidable=False),
    ]
