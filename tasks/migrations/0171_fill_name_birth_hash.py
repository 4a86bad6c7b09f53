"""Fills `name_birth_hash` of the persons stored before it existed, and of the pending leads (those the
next intake batch will turn into persons).

A one-off: the birth date is in the encrypted document number, so this migration decrypts the numbers,
in batches of 5,000 rows in Python, and writes each batch's hashes with one UPDATE … FROM unnest. The
intake never decrypts: from now on the hash is computed at validation beside the other blind indexes.
Only resident IDs (digits 7–14 of the 18-digit form, 19 + digits 7–12 of the 15-digit one) and the 2023
form of the foreigner's permanent residence ID carry a birth date; rows without a name get none.

The decryption (the envelope of tasks/crypto.py, "e1:<key id>:<base64(nonce + ct + tag)>"), the name's
normal form and the keyed hash (tasks/validation.py: name_key, name_birth_hash) are written out here: a
migration must not depend on app code that may change later. Reversing leaves the column to the
previous migration's removal.
"""

import base64
import hashlib
import hmac
import unicodedata

from django.conf import settings
from django.db import migrations

_PREFIX = "e1:"
_BATCH = 5000
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", ".": "·", "．": "·"})
_TABLES = (
    ("tasks_person", "TRUE"),
    ("tasks_lead", "id IN (SELECT lead_id FROM tasks_pendinglead)"),
)


def _decrypter():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = settings.FIELD_ENCRYPTION_KEYS
    keys = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
    ciphers = {}
    for text in keys:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        ciphers[hashlib.sha256(b"tcc-field-key-id|" + raw).hexdigest()[:8]] = AESGCM(raw)

    def decrypt(value):
        if not value or not value.startswith(_PREFIX):
            return value
        blob = base64.urlsafe_b64decode(value[len(_PREFIX) + 9 :])
        return ciphers[value[len(_PREFIX) : len(_PREFIX) + 8]].decrypt(blob[:12], blob[12:], None).decode()

    return decrypt


def _birth_date(id_type, number):
    number = (number or "").strip().upper()
    if id_type == "resident_id" and len(number) == 18 and number[:17].isdigit():
        return number[6:14]
    if id_type == "resident_id" and len(number) == 15 and number.isdigit():
        return "19" + number[6:12]
    if id_type == "foreign_permanent_resident" and len(number) == 18 and number[:17].isdigit():
        return number[6:14]
    return ""


def _name_key(name):
    return "".join(unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS).split()).casefold()


def fill(apps, schema_editor):
    decrypt = _decrypter()
    key = settings.PERSON_HASH_KEY.encode()
    with schema_editor.connection.cursor() as cursor:
        for table, where in _TABLES:
            after = 0
            while True:
                cursor.execute(
                    f"""SELECT id, id_type, id_number, name FROM {table}
                        WHERE id > %s AND {where} AND name_birth_hash = '' AND name <> ''
                          AND id_number_hash <> '' AND id_type IN ('resident_id', 'foreign_permanent_resident')
                        ORDER BY id LIMIT %s""",
                    [after, _BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                after = rows[-1][0]
                ids, hashes = [], []
                for pk, id_type, number, name in rows:
                    born, name_key = _birth_date(id_type, decrypt(number)), _name_key(decrypt(name))
                    if born.isdigit() and name_key:
                        ids.append(pk)
                        message = f"nb|{name_key}|{born}".encode()
                        hashes.append(hmac.new(key, message, hashlib.sha256).hexdigest())
                if ids:
                    cursor.execute(
                        f"""UPDATE {table} t SET name_birth_hash = u.h
                            FROM unnest(%s::bigint[], %s::text[]) AS u(id, h) WHERE t.id = u.id""",
                        [ids, hashes],
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0170_name_birth_hash"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
