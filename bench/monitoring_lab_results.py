"""The lab results feed: 100,000 results posted over real HTTP (gunicorn on loopback) in requests of
10,000, validated, stored and matched to persons by the blind index, with the effects of the positives.

Data: 100,000 persons keyed as the intake keys them (90 % of the results name one of them by resident
ID, 5 % by phone + name, 5 % nobody), 1 % of the results positive. The lab pushes with an integration
token of a county duty-desk account, as a laboratory would.

Floor of the same run: the same 100,000 rows COPYed into a table of the same columns without indexes,
constraints or matching (the database's cost of merely storing them). Target: < 30 s in all.
"""

from __future__ import annotations

import http.client
import json
import time
from datetime import date, timedelta

from django.db import connection
from django.utils import timezone

from bench.harness import free_port, start_gunicorn

TOTAL = 100_000
PER_REQUEST = 10_000
COUNTY = "460105"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _check_digit(first17: str) -> str:
    from tasks.validation import id_check_digit

    return id_check_digit(first17)


def _id(n: int) -> str:
    """A distinct valid resident ID for each n < 10,000,000: a birth date per thousand, a serial."""
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    first17 = f"{COUNTY}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + _check_digit(first17)


def _people(count: int) -> list[tuple[str, str, str]]:
    """(resident ID, phone, name) of `count` distinct persons."""
    return [(_id(n), f"139{n:08d}", "测试" + GIVEN[n % len(GIVEN)]) for n in range(count)]


def _load_persons(people: list[tuple[str, str, str]]) -> None:
    from tasks import validation as v
    from tasks.crypto import keyring

    hasher = v._hasher()
    encrypt = keyring().encrypt
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY tasks_person (person_key, id_number, id_number_hash, name, phone, phone_hash, created_at) FROM STDIN"
        ) as copy:
            now = timezone.now()
            for i, (id18, phone, name) in enumerate(people):
                if i % 20 == 19:  # known by phone and name only
                    copy.write_row(
                        (
                            v.person_key(phone=phone, name=name, hasher=hasher),
                            "",
                            "",
                            name,
                            encrypt(phone),
                            hasher("phone", phone),
                            now,
                        )
                    )
                else:
                    id_hash = hasher("id", id18)
                    copy.write_row(
                        (
                            "id:" + id_hash,
                            encrypt(id18),
                            id_hash,
                            name,
                            encrypt(phone),
                            hasher("phone", phone),
                            now,
                        )
                    )
        cursor.execute("ANALYZE tasks_person")


def _rows(people: list[tuple[str, str, str]]) -> list[dict]:
    sampled = (timezone.now() - timedelta(hours=3)).replace(microsecond=0).isoformat()
    rows = []
    for n in range(TOTAL):
        id18, phone, name = people[n % len(people)]
        row = {
            "lab": "海口市疾控中心实验室",
            "sample_id": f"S{n:07d}",
            "sampled_at": sampled,
            "test_type": "nucleic_acid",
            "result": "positive" if n % 100 == 7 else "negative",
        }
        if n % 20 == 19:
            row.update(phone=phone, name=name)
        elif n % 20 == 18:
            row["id_number"] = _id(TOTAL + n)  # nobody
        else:
            row["id_number"] = id18
        rows.append(row)
    return rows


def _floor(rows: list[dict]) -> float:
    """COPY the same rows into a bare table of the same columns: no validation, index or matching."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_lab_floor (lab text, sample_id text, sampled_at timestamptz, test_type text, "
            "result text, id_number text, phone text, name text)"
        )
        with cursor.copy("COPY bench_lab_floor FROM STDIN") as copy:
            for r in rows:
                copy.write_row(
                    (
                        r["lab"],
                        r["sample_id"],
                        r["sampled_at"],
                        r["test_type"],
                        r["result"],
                        r.get("id_number", ""),
                        r.get("phone", ""),
                        r.get("name", ""),
                    )
                )
        cursor.execute("DROP TABLE bench_lab_floor")
    return time.perf_counter() - started


def run(bench) -> None:
    from django.db import transaction

    from monitoring.models import LabResult
    from tasks.models import ApiToken, Role, User
    from tasks.tokens import token_issue

    people = _people(TOTAL)
    with bench.timer() as setup:
        _load_persons(people)
    bench.note(f"{len(people):,} persons loaded in {setup.seconds:.1f} s")
    officer = User.objects.create_user(
        username="bench-lab-desk",
        password="Bench-Lab-Password-42",
        role=Role.DUTY_OFFICER,
        division_id=COUNTY,
    )
    key, _token = token_issue(user=officer, kind=ApiToken.Kind.INTEGRATION, name="bench lab")
    rows = _rows(people)
    bodies = [
        json.dumps(rows[start : start + PER_REQUEST], ensure_ascii=False).encode()
        for start in range(0, TOTAL, PER_REQUEST)
    ]
    with transaction.atomic():
        floor = _floor(rows)
    # The server must see the persons and the token: nothing above is left uncommitted.
    port = free_port()
    proc = start_gunicorn(port, workers=1)
    accepted = duplicates = rejected = 0
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with bench.timer() as total:
            for body in bodies:
                conn.request(
                    "POST",
                    "/api/v1/test-results/",
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
                )
                response = conn.getresponse()
                payload = response.read()
                if response.status >= 300:
                    bench.note(f"POST answered {response.status}: {payload[:300]!r}")
                    return
                answer = json.loads(payload)
                accepted += answer["accepted"]
                duplicates += answer["duplicates"]
                rejected += len(answer["rejected"])
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    matched = LabResult.objects.filter(match_state="matched").count()
    bench.note(
        f"accepted {accepted:,}, duplicates {duplicates:,}, rejected {rejected:,}; matched {matched:,}, "
        f"unmatched {LabResult.objects.filter(match_state='unmatched').count():,}"
    )
    bench.report(
        f"POST /api/v1/test-results/ {TOTAL:,} results in {len(bodies)} requests over HTTP, matched",
        total.seconds,
        "s",
        floor=floor,
        target=30,
    )
