"""Encryption at rest of names and addresses (docs/encryption.md): persons' and leads' names, leads' and
tasks' addresses, and the `name`/`address` keys of rejected rows. Names get a blind index (`name_hash`,
HMAC of the normalised name with PERSON_HASH_KEY) for search by exact name and the duplicate job; the
plaintext pinyin of names (`name_pinyin`) is dropped for keyed hashes of the sound and of the surname,
which the duplicate job fills again on its next run.

The columns become `text`, then the existing rows are encrypted in batches with the first key of
FIELD_ENCRYPTION_KEYS, written out here as in 0009 (a migration does not import app code that may
change). Reversing decrypts them.
"""

import base64
import hashlib
import hmac
import json
import os
import unicodedata

import tasks.crypto
from django.conf import settings
from django.db import migrations, models

_PREFIX = "e1:"
_BATCH = 5000
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", ".": "·", "．": "·"})
# table, encrypted columns, whether it has a name_hash to fill from the name
_TABLES = (
    ("tasks_person", ("name",), True),
    ("tasks_lead", ("name", "address"), True),
    ("tasks_tracingtask", ("address",), False),
)
_ROW_KEYS = ("name", "address")


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


def _name_hash(name):
    """tasks.validation.name_hash as of this migration."""
    key = "".join(unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS).split()).casefold()
    if not key:
        return ""
    return hmac.new(settings.PERSON_HASH_KEY.encode(), f"name|{key}".encode(), hashlib.sha256).hexdigest()


def _convert(schema_editor, *, encrypting):
    transform = _encrypter() if encrypting else _decrypter()
    decrypt = _decrypter()
    todo = "({c} <> '' AND left({c}, 3) <> 'e1:')" if encrypting else "left({c}, 3) = 'e1:'"
    with schema_editor.connection.cursor() as cursor:
        for table, columns, hashed in _TABLES:
            where = " OR ".join(todo.format(c=c) for c in columns)
            if encrypting and hashed:
                where += " OR (name <> '' AND name_hash = '')"
            out = [*columns, "name_hash"] if encrypting and hashed else list(columns)
            sets = ", ".join(f"{c} = u.{c}" for c in out)
            arrays = ", ".join("%s::text[]" for _ in out)
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
                if encrypting and hashed:
                    params.append([_name_hash(decrypt(r[1])) for r in rows])
                cursor.execute(
                    f"UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS u(id, {', '.join(out)}) "
                    "WHERE t.id = u.id",
                    params,
                )
        after = 0
        while True:
            cursor.execute(
                "SELECT id, row FROM tasks_leadrejection WHERE id > %s AND row ?| array['name', 'address'] "
                "ORDER BY id LIMIT %s",
                [after, _BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            after = rows[-1][0]
            ids, new_rows = [], []
            for pk, row in rows:
                if isinstance(row, str):  # Django's psycopg backend loads jsonb as text
                    row = json.loads(row)
                if not isinstance(row, dict):
                    continue
                new = dict(row)
                for key in _ROW_KEYS:
                    value = new.get(key)
                    if value not in (None, ""):
                        new[key] = transform(
                            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                        )
                if new != row:
                    ids.append(pk)
                    new_rows.append(json.dumps(new, ensure_ascii=False))
            if ids:
                cursor.execute(
                    "UPDATE tasks_leadrejection t SET row = u.row::jsonb FROM unnest(%s::bigint[], %s::text[]) "
                    "AS u(id, row) WHERE t.id = u.id",
                    [ids, new_rows],
                )


def encrypt_existing(apps, schema_editor):
    _convert(schema_editor, encrypting=True)


def decrypt_existing(apps, schema_editor):
    _convert(schema_editor, encrypting=False)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0171_fill_name_birth_hash"),
    ]

    operations = [
        migrations.RemoveField(model_name="person", name="name_pinyin"),
        migrations.AddField(
            model_name="lead",
            name="name_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="person",
            name="name_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="person",
            name="name_sound_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="person",
            name="surname_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="lead",
            name="address",
            field=tasks.crypto.EncryptedTextField(blank=True, verbose_name="address"),
        ),
        migrations.AlterField(
            model_name="lead",
            name="name",
            field=tasks.crypto.EncryptedCharField(blank=True, max_length=50, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="person",
            name="name",
            field=tasks.crypto.EncryptedCharField(blank=True, max_length=50, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="tracingtask",
            name="address",
            field=tasks.crypto.EncryptedTextField(blank=True, verbose_name="address"),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing, elidable=False),
    ]
