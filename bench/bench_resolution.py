"""Village resolution of addresses (tasks/intake.py `_resolve_villages`): precision and recall.

A generated set of at least 10,000 addresses built from the real division tree (Hainan, complete to
villages: the 3,296 villages of tasks/data/hainan.csv, the same file as ../shared/data/divisions/), sent
through the lead API's ingestion and one real intake batch. Every address is written for one known
village, in one of these forms (rotating, each village drawn at random with a fixed seed):

- `full`: province, city, county, township and village as officially named, and a house number;
- `short`: 海口 / 秀英区 / the village as written in addresses (秀中社区, 长东村), a house number;
- `no_township`: county and village only;
- `house_number`: a road and building number before the village, a group and house number after it;
- `county_twice`: the county written twice (秀英区秀英区…);
- `township_code`: the township's code as division_code, the address naming only the village;
- `typo_township`: one character of the township name replaced;
- `typo_village`: one character of the village name replaced (the address no longer names the village).

Precision = tasks put on the right village / tasks put on any village (a wrong village sends a task to
the wrong team): target ≥ 99.5 %. Recall = tasks put on the right village / addresses that name the
village (every form but `typo_village`): target ≥ 95 %. Both are printed per form too.

Run: `python3 scripts/bench.py resolution` (any --scale keeps at least 10,000 addresses).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from unittest import mock

from django.db import connection

MIN_ADDRESSES = 10_000
FORMS = (
    "full",
    "short",
    "no_township",
    "house_number",
    "county_twice",
    "township_code",
    "typo_township",
    "typo_village",
)
ROADS = "长滨 滨海 海秀 南海 龙昆 金盘 椰海 丘海 港澳 迎宾".split()
TYPO_CHARS = "甲乙丙丁戊己庚辛壬癸鑫淼犇骉"


def short_village(name: str) -> str:
    """The village as written in addresses: the same rule as the intake's _SHORT_NAME_SQL."""
    name = re.sub("(村民委员会|村委员会|村委会)$", "村", name)
    suffix = "社区" if re.search("社区(居民委员会|居委会)$", name) else ""
    return re.sub("(社区居民委员会|社区居委会|居民委员会|居委会|委员会|办事处)$", suffix, name)


def short_upper(name: str) -> str:
    for suffix in ("省", "市", "自治区"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def typo(text: str, rng: random.Random, keep_suffix: int = 1) -> str:
    """`text` with one character (not its last `keep_suffix`, the 镇/村/社区 marker) replaced."""
    position = rng.randrange(0, max(1, len(text) - keep_suffix))
    return text[:position] + rng.choice(TYPO_CHARS) + text[position + 1 :]


def villages(cursor) -> list[tuple[str, str, str, str, str, str]]:
    cursor.execute(
        """
        SELECT v.code, v.name, t.name, c.name, ci.name, p.name
        FROM tasks_division v
        JOIN tasks_division t ON t.code = left(v.code, 9)
        JOIN tasks_division c ON c.code = left(v.code, 6)
        JOIN tasks_division ci ON ci.code = left(v.code, 4)
        JOIN tasks_division p ON p.code = left(v.code, 2)
        WHERE v.level = 'village' AND v.code LIKE '46%%'
        ORDER BY v.code
        """
    )
    return cursor.fetchall()


def generate(rows, n: int, seed: int = 20) -> list[tuple[dict, str, str]]:
    """(lead row, form, expected village code) for n addresses."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        code, village, township, county, city, province = rng.choice(rows)
        form = FORMS[i % len(FORMS)]
        short = short_village(village)
        house = f"{rng.randint(1, 30)}组{rng.randint(1, 200)}号"
        # A county-level city (儋州市) is both the city and the county: named once.
        upper = province + ("" if city == county else city)
        division_code = None
        if form == "full":
            address = f"{upper}{county}{township}{village}{house}"
        elif form == "short":
            address = f"{short_upper(city) if city != county else ''}{county}{township}{short}{rng.randint(1, 99)}号"
        elif form == "no_township":
            address = f"{upper}{county}{short}{house}"
        elif form == "house_number":
            road = rng.choice(ROADS)
            address = f"{upper}{county}{township}{road}路{rng.randint(1, 300)}号{short}{house}"
        elif form == "county_twice":
            address = f"{upper}{county}{county}{township}{short}{house}"
        elif form == "township_code":
            division_code = code[:9]
            address = f"{short}{house}"
        elif form == "typo_township":
            address = f"{upper}{county}{typo(township, rng)}{short}{house}"
        else:  # typo_village
            keep = 2 if short.endswith("社区") else 1
            address = f"{upper}{county}{township}{typo(short, rng, keep)}{house}"
        row = {
            "source": "hotline",
            "external_id": f"res-{i}",
            "name": f"测试{i}",
            "phone": f"139{i:08d}",
            "address": address,
            "reported_at": "2024-05-01T08:00:00+08:00",
        }
        if division_code:
            row["division_code"] = division_code
        out.append((row, form, code))
    return out


def run(bench) -> None:
    from tasks.intake import intake_run
    from tasks.leads_io import ingest_rows

    n = max(MIN_ADDRESSES, bench.scaled(MIN_ADDRESSES))
    with connection.cursor() as cursor:
        rows = villages(cursor)
    cases = generate(rows, n)
    bench.note(f"{n:,} addresses over {len(rows):,} Hainan villages, {len(FORMS)} forms")
    result = ingest_rows([row for row, _, _ in cases], channel="api")
    # The dispatch plan is not part of the resolution: left out, as in the intake tests.
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
        bench.timer() as timer,
    ):
        intake_run()
    bench.report(f"intake batch of {n:,} address leads", timer.seconds, "s")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.external_id, t.division_id FROM tasks_lead l
            JOIN tasks_leadlink k ON k.lead_id = l.id JOIN tasks_tracingtask t ON t.id = k.task_id
            WHERE l.external_id LIKE 'res-%%'
            """
        )
        got = dict(cursor.fetchall())
    totals: dict[str, Counter] = {form: Counter() for form in FORMS}
    for row, form, expected in cases:
        division = got.get(row["external_id"])
        c = totals[form]
        c["n"] += 1
        if division is None:
            c["rejected"] += 1
        elif len(division) == 12:
            c["resolved"] += 1
            c["right" if division == expected else "wrong"] += 1
        elif expected.startswith(division):
            c["unresolved"] += 1
        else:
            c["wrong_area"] += 1
    for form in FORMS:
        c = totals[form]
        bench.note(
            f"{form:<14} {c['n']:>5}: right {c['right']:>5}, wrong village {c['wrong']:>3}, left on the "
            f"township/county {c['unresolved']:>4}, wrong area {c['wrong_area']:>3}, rejected {c['rejected']:>3}"
        )
    resolved = sum(c["resolved"] for c in totals.values())
    right = sum(c["right"] for c in totals.values())
    naming = [form for form in FORMS if form != "typo_village"]
    bench.report(
        "precision of village resolution", 100.0 * right / max(1, resolved), "%", target=99.5, better="higher"
    )
    bench.report(
        "recall on addresses that name the village",
        100.0 * sum(totals[f]["right"] for f in naming) / max(1, sum(totals[f]["n"] for f in naming)),
        "%",
        target=95.0,
        better="higher",
    )
    bench.report(
        "recall with a typo in the village name",
        100.0 * totals["typo_village"]["right"] / max(1, totals["typo_village"]["n"]),
        "%",
        better="higher",
    )
    bench.note(f"leads rejected at intake: {len(result.rejected)}")
