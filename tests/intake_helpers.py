"""Helpers for the intake tests: valid resident IDs, lead dicts, running a batch."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from tasks.validation import id_check_digit

_counter = itertools.count(1)

HOME_VILLAGE = "460105001001"  # 秀华社区居民委员会, 秀英街道, 秀英区
CHANGLIU_TOWNSHIP = "460105100"  # 长流镇
CHANGDONG_VILLAGE = "460105100200"  # 长东村委会
KANGAN_VILLAGE = "460105100201"  # 康安村委会
OTHER_COUNTY_VILLAGE = "460106001002"  # 人和坊社区, 龙华区


def resident_id(birth: str | None = None, region: str = "460105", seq: str | None = None) -> str:
    """A valid 18-digit resident ID (correct check digit), a new one on every call."""
    n = next(_counter)
    birth = birth or (date(1950, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    seq = seq or f"{n % 1000:03d}"
    first17 = region + birth + seq
    return first17 + id_check_digit(first17)


def lead(**fields) -> dict:
    n = next(_counter)
    row = {
        "source": "red_code",
        "external_id": f"ext-{n}",
        "name": f"测试{n}",
        "division_code": HOME_VILLAGE,
        "reported_at": "2024-05-01T08:30:00+08:00",
    }
    if "id_number" not in fields and "phone" not in fields:
        row["id_number"] = resident_id()
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}
