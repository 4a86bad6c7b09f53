"""The finding parameters that quote field records (a close contact's name, trajectory places) are
encrypted at rest (docs/encryption.md): the field becomes tasks.crypto.EncryptedKeysJSONField and the
stored findings are encrypted in batches with the first key of FIELD_ENCRYPTION_KEYS (the envelope of
tasks/crypto.py written out here, as in tasks.0009). Reversing decrypts them."""

import base64
import hashlib
import json
import os

import tasks.crypto
from django.conf import settings
from django.db import migrations

_PREFIX = "e1:"
_KEYS = ("name", "place", "other_place", "from_place")
_BATCH = 5000


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


def _convert(schema_editor, transform):
    keys = ", ".join(f"'{k}'" for k in _KEYS)
    with schema_editor.connection.cursor() as cursor:
        after = 0
        while True:
            cursor.execute(
                f"SELECT id, params FROM reviews_finding WHERE id > %s AND params ?| array[{keys}] ORDER BY id LIMIT %s",
                [after, _BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            after = rows[-1][0]
            ids, new_params = [], []
            for pk, params in rows:
                if isinstance(params, str):  # Django's psycopg backend loads jsonb as text
                    params = json.loads(params)
                if not isinstance(params, dict):
                    continue
                new = {k: transform(v) if k in _KEYS and isinstance(v, str) else v for k, v in params.items()}
                if new != params:
                    ids.append(pk)
                    new_params.append(json.dumps(new, ensure_ascii=False))
            if ids:
                cursor.execute(
                    "UPDATE reviews_finding t SET params = u.params::jsonb "
                    "FROM unnest(%s::bigint[], %s::text[]) AS u(id, params) WHERE t.id = u.id",
                    [ids, new_params],
                )


def encrypt_existing(apps, schema_editor):
    _convert(schema_editor, _encrypter())


def decrypt_existing(apps, schema_editor):
    _convert(schema_editor, _decrypter())


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_notices_move_to_their_app"),
        ("tasks", "0201_encrypt_field_records"),
    ]

    operations = [
        migrations.AlterField(
            model_name="finding",
            name="params",
            field=tasks.crypto.EncryptedKeysJSONField(
                blank=True, default=dict, encrypted_keys=("name", "place", "other_place", "from_place")
            ),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing, elidable=False),
    ]
