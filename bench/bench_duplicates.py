"""The likely-duplicate job (docs/people.md) over 100,000 persons with open tasks, a few thousand of them
seeded as pairs of each rule. Target: the job (name sounds computed, pairs proposed) under 30 s, and
every seeded pair found.

Every person carries a name-birth hash (as persons reported with an ID do), so the rule "same name and
birth date" joins 100,000 values, of which the seeded pairs share one.

Floor: a bare self-join of the same persons on the phone hash (the simplest of the rules), same run."""

from __future__ import annotations

VILLAGES = 200


def _seed(bench, n: int) -> dict[str, int]:
    """n persons with an open task each; every 50th person gets a twin (the same phone, or the same name
    sound in the same village), and every 50th person offset by 25 a twin with the same name and birth
    date (another ID number, phone and village)."""
    pairs = n // 50
    with bench.connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks_person (person_key, id_type, id_number, id_number_hash, name, phone, phone_hash,
                                      case_status, name_sound_hash, name_birth_hash, created_at)
            SELECT 'bench:' || g, 'resident_id', '', md5('id' || g),
                   -- distinct surnames and given names so that unrelated persons do not sound alike
                   chr(19968 + (g %% 20000)) || chr(19968 + ((g / 20000) %% 20000)) || g,
                   '', md5('phone' || g), 'none', '', md5('nb' || g), now()
            FROM generate_series(1, %(n)s) g
            """,
            {"n": n},
        )
        # Twins: the same phone and name (same_phone), the same name in another spelling is not generated
        # here: a homophone pair (pinyin_name_same_village) takes the same characters (same sound) with a
        # different phone; an ID learned later needs a lead and is left to the tests.
        cursor.execute(
            """
            INSERT INTO tasks_person (person_key, id_type, id_number, id_number_hash, name, phone, phone_hash,
                                      case_status, name_sound_hash, created_at)
            SELECT 'bench-twin:' || (g * 50), 'resident_id', '', '', p.name, '',
                   CASE WHEN g %% 2 = 0 THEN p.phone_hash ELSE md5('other' || g) END, 'none', '', now()
            FROM generate_series(1, %(pairs)s) g
            JOIN tasks_person p ON p.person_key = 'bench:' || (g * 50)
            """,
            {"pairs": pairs},
        )
        # Same name and birth date, another ID: the key's number is 5,000 past the original's, which puts
        # its task 100 villages away (the village follows the number below).
        cursor.execute(
            """
            INSERT INTO tasks_person (person_key, id_type, id_number, id_number_hash, name, phone, phone_hash,
                                      case_status, name_sound_hash, name_birth_hash, created_at)
            SELECT 'bench-born:' || (g * 50 - 25 + 5000), 'resident_id', '', md5('other-id' || g), p.name, '',
                   md5('born-phone' || g), 'none', '', p.name_birth_hash, now()
            FROM generate_series(1, %(pairs)s) g
            JOIN tasks_person p ON p.person_key = 'bench:' || (g * 50 - 25)
            """,
            {"pairs": pairs},
        )
        cursor.execute(
            """
            INSERT INTO tasks_tracingtask (person_id, status, kind, outcome, priority, division_id, unresolved_reason,
                address, batch_id, generation, created_at, updated_at, version, clock_alerts, legal_hold,
                legal_hold_reason, verification_found)
            SELECT p.id, 'dispatched', 'verification', '', 3,
                   '4601050010' || lpad((1 + coalesce(substring(p.person_key from '\\d+$')::int, 0) / 50 %% %(villages)s)::text, 2, '0'),
                   '', '', 900000000, 0, now(), now(), 1, 0, false, '', ''
            FROM tasks_person p WHERE p.person_key LIKE 'bench%%'
            """,
            {"villages": VILLAGES},
        )
        _encrypt_names(cursor)
        cursor.execute("ANALYZE tasks_person")
        cursor.execute("ANALYZE tasks_tracingtask")
    return {"pairs": pairs, "born_pairs": pairs}


def _encrypt_names(cursor, batch: int = 20_000) -> None:
    """The names as the intake stores them, encrypted (tasks/crypto.py): the job decrypts each name it
    computes the sound of, and that is part of what is timed."""
    from tasks.crypto import encrypt

    cursor.execute("SELECT id, name FROM tasks_person WHERE person_key LIKE 'bench%%' ORDER BY id")
    rows = cursor.fetchall()
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        cursor.execute(
            """UPDATE tasks_person p SET name = v.name
               FROM unnest(%s::bigint[], %s::text[]) AS v(id, name) WHERE p.id = v.id""",
            [[row[0] for row in part], [encrypt(row[1]) for row in part]],
        )


def run(bench) -> None:
    from tasks.duplicates import find_duplicates
    from tasks.models import DuplicateCandidate

    n = bench.scaled(100_000, minimum=2_000)
    seeded = _seed(bench, n)
    with bench.connection.cursor() as cursor, bench.timer() as floor:
        cursor.execute(
            """SELECT count(*) FROM tasks_person a JOIN tasks_person b
               ON b.phone_hash = a.phone_hash AND b.id > a.id WHERE a.phone_hash <> ''"""
        )
        cursor.fetchone()
    with bench.timer() as timed:
        result = find_duplicates()
    found = DuplicateCandidate.objects.count()
    born = DuplicateCandidate.objects.filter(rules__contains=["same_name_birth_date"]).count()
    assert result.ran and found >= seeded["pairs"] + seeded["born_pairs"], (found, seeded)
    assert born == seeded["born_pairs"], (born, seeded)
    bench.report(
        f"likely duplicates among {n:,} open persons ({seeded['pairs'] + seeded['born_pairs']:,} seeded pairs, "
        f"{born:,} of them same name and birth date; {found:,} proposed)",
        timed.seconds,
        "s",
        floor=floor.seconds,
        target=30.0 * n / 100_000,
    )
