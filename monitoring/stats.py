"""Monitoring figures of a territory (docs/monitoring.md "Statistics"), in set SQL over the periods
whose village is inside the chosen division:

* today's figures: monitored now, due today, checked in today, missed, lost contact, abnormal today,
  samples due and overdue, positives today, and the case status of the persons of the periods;
* the **measure execution rate** by division (one level below the chosen one) and day: the share of
  the check-ins and samples that were due and were done on time. A check-in is due on each day of a
  period once that day's due hour has passed (not before the period was created, not after the
  release) and done on time when one came for that day; a sample is due on its day and done on time
  when its result came by the end of that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import Division, Person
from tasks.selectors import scope_code

from .clock import due_moment, local_day
from .models import CheckIn, MonitoringAlert, MonitoringPeriod, SampleDue

MAX_DAYS = 92
LEVEL_LENGTHS = (2, 4, 6, 9, 12)


class BadParameter(Exception):
    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class OutsideTerritory(Exception):
    """The division asked for is not inside the caller's territory (404)."""


@dataclass(frozen=True)
class Query:
    prefix: str
    date_from: date
    date_to: date
    group_length: int


def _date(params, name: str, default: date) -> date:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadParameter(name, _("a date as YYYY-MM-DD")) from None


def parse_query(user, params, *, now: datetime | None = None) -> Query:
    scope = scope_code(user)
    if scope is None:
        raise OutsideTerritory
    division = str(params.get("division") or "").strip()
    if division:
        if not division.startswith(scope) or not Division.objects.filter(code=division).exists():
            raise OutsideTerritory
        prefix = division
    else:
        prefix = scope
    today = local_day(now or timezone.now())
    date_to = _date(params, "date_to", today)
    date_from = _date(params, "date_from", date_to - timedelta(days=13))
    if date_from > date_to:
        raise BadParameter("date_from", _("must not be after date_to"))
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadParameter("date_from", _("at most %(days)s days at once") % {"days": MAX_DAYS})
    group_length = next((n for n in LEVEL_LENGTHS if n > len(prefix)), 12)
    return Query(prefix=prefix, date_from=date_from, date_to=date_to, group_length=group_length)


def _tables() -> dict[str, str]:
    return {
        "period": MonitoringPeriod._meta.db_table,
        "checkin": CheckIn._meta.db_table,
        "sample": SampleDue._meta.db_table,
        "alert": MonitoringAlert._meta.db_table,
        "person": Person._meta.db_table,
        "division": Division._meta.db_table,
    }


_TODAY_SQL = """
WITH p AS (SELECT * FROM {period} WHERE division_id LIKE %(like)s),
due AS (
    SELECT p.id FROM p
    WHERE p.state IN ('running', 'escalated', 'lost_contact') AND p.starts_on <= %(today)s
      AND p.ends_on >= %(today)s
)
SELECT
    (SELECT count(*) FROM p WHERE p.state IN ('running', 'escalated')),
    (SELECT count(*) FROM due),
    (SELECT count(DISTINCT c.period_id) FROM {checkin} c JOIN p ON p.id = c.period_id
        WHERE c.day = %(today)s),
    (SELECT count(*) FROM due WHERE %(past_due)s
        AND NOT EXISTS (SELECT 1 FROM {checkin} c WHERE c.period_id = due.id AND c.day = %(today)s)),
    (SELECT count(*) FROM p WHERE p.state = 'lost_contact'),
    (SELECT count(DISTINCT c.period_id) FROM {checkin} c JOIN p ON p.id = c.period_id
        WHERE c.day = %(today)s AND c.abnormal),
    (SELECT count(*) FROM {sample} s JOIN p ON p.id = s.period_id
        WHERE s.state = 'due' AND s.due_on = %(today)s),
    (SELECT count(*) FROM {sample} s JOIN p ON p.id = s.period_id
        WHERE s.state = 'due' AND s.due_on < %(today)s AND p.state <> 'released'),
    (SELECT count(*) FROM {alert} a JOIN p ON p.id = a.period_id
        WHERE a.kind = 'positive' AND a.day = %(today)s)
"""

TODAY_KEYS = (
    "monitored_now",
    "due_today",
    "checked_in_today",
    "missed",
    "lost_contact",
    "abnormal_today",
    "samples_due",
    "samples_overdue",
    "positives_today",
)

_CASE_SQL = """
SELECT pe.case_status, count(*) FROM {person} pe
WHERE pe.id IN (SELECT person_id FROM {period} WHERE division_id LIKE %(like)s)
GROUP BY pe.case_status
"""

_RATE_SQL = """
WITH p AS (SELECT * FROM {period} WHERE division_id LIKE %(like)s),
days AS (SELECT d::date AS day FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') d),
due AS (
    SELECT left(p.division_id, %(len)s) AS division, days.day, p.id,
        EXISTS (SELECT 1 FROM {checkin} c WHERE c.period_id = p.id AND c.day = days.day) AS done
    FROM p JOIN days ON days.day BETWEEN p.starts_on AND p.ends_on
    WHERE (days.day + make_interval(hours => %(due_hour)s::int)) AT TIME ZONE %(tz)s > p.created_at
      AND (days.day + make_interval(hours => %(due_hour)s::int)) AT TIME ZONE %(tz)s <= %(now)s
      AND (p.released_at IS NULL OR (p.released_at AT TIME ZONE %(tz)s)::date >= days.day)
),
ck AS (
    SELECT division, day, count(*) AS due, count(*) FILTER (WHERE done) AS done FROM due GROUP BY 1, 2
),
sm AS (
    SELECT left(p.division_id, %(len)s) AS division, s.due_on AS day, count(*) AS due,
        count(*) FILTER (WHERE s.state = 'done' AND (s.done_at AT TIME ZONE %(tz)s)::date <= s.due_on)
            AS on_time
    FROM {sample} s JOIN p ON p.id = s.period_id
    WHERE s.due_on BETWEEN %(from)s AND %(to)s AND s.due_on <= %(today)s AND s.state <> 'cancelled'
    GROUP BY 1, 2
)
SELECT r.division, d.name, r.day, r.checkins_due, r.checkins_done, r.samples_due, r.samples_on_time
FROM (
    SELECT COALESCE(ck.division, sm.division) AS division, COALESCE(ck.day, sm.day) AS day,
        COALESCE(ck.due, 0) AS checkins_due, COALESCE(ck.done, 0) AS checkins_done,
        COALESCE(sm.due, 0) AS samples_due, COALESCE(sm.on_time, 0) AS samples_on_time
    FROM ck FULL JOIN sm ON ck.division = sm.division AND ck.day = sm.day
) r
LEFT JOIN {division} d ON d.code = r.division
ORDER BY r.division, r.day
"""

RATE_COLUMNS = (
    "division",
    "division_name",
    "day",
    "checkins_due",
    "checkins_done",
    "samples_due",
    "samples_on_time",
    "execution_rate",
)


def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def compute(query: Query, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = local_day(now)
    tables = _tables()
    params: dict[str, Any] = {
        "like": query.prefix + "%",
        "today": today,
        "past_due": now >= due_moment(today),
        "now": now,
        "from": query.date_from,
        "to": query.date_to,
        "len": query.group_length,
        "due_hour": settings.CHECKIN_DUE_HOUR,
        "tz": timezone.get_current_timezone_name(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_TODAY_SQL.format(**tables), params)
        figures = dict(zip(TODAY_KEYS, cursor.fetchone(), strict=True))
        cursor.execute(_CASE_SQL.format(**tables), params)
        cases = dict(cursor.fetchall())
        cursor.execute(_RATE_SQL.format(**tables), params)
        raw = cursor.fetchall()
    from tasks.models import CaseStatus

    rows = [
        {
            "division": division,
            "division_name": name or "",
            "day": day.isoformat(),
            "checkins_due": c_due,
            "checkins_done": c_done,
            "samples_due": s_due,
            "samples_on_time": s_done,
            "execution_rate": _rate(c_done + s_done, c_due + s_due),
        }
        for division, name, day, c_due, c_done, s_due, s_done in raw
    ]
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("checkins_due", "checkins_done", "samples_due", "samples_on_time")
    }
    totals["execution_rate"] = _rate(
        totals["checkins_done"] + totals["samples_on_time"], totals["checkins_due"] + totals["samples_due"]
    )
    return {
        "division": query.prefix,
        "date_from": query.date_from.isoformat(),
        "date_to": query.date_to.isoformat(),
        "today": today.isoformat(),
        **figures,
        "case_status": {status: cases.get(status, 0) for status in CaseStatus.values},
        "execution": {"totals": totals, "rows": rows},
    }
