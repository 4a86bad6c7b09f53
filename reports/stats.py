"""Statistics selectors (issue 7). Every function takes the reading account and answers only for its
territory (tasks.selectors.scope_code); a `division` outside it is a 404. Counts come from the rollup
tables (reports/models.py, kept exact by triggers); what rollups cannot answer (medians over a window,
leads by source, lists of tasks) is a live query restricted by an index to the window or the list.

Each table function returns a `Table` (columns + rows), so the same data serves JSON, CSV and XLSX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from tasks.models import Division, IntakeBatch, TaskStatus
from tasks.models.territory import CODE_LENGTH, LEVEL_BY_LENGTH, Level
from tasks.models.tracing import ACTIVE_STATUSES
from tasks.selectors import scope_code, transfers_visible_to
from tracing_center.db_router import read_alias, read_connection, reads_from_replica

from .rollup_sql import ACTIVE, RUNNING_DEADLINE

LEVELS = [level.value for level in Level]
GROUPS = ("division", "status", "priority", "batch", "source", "kind", "outcome", "hit_rate", "hour", "day")
ACTIVE_LIST = [str(s) for s in ACTIVE_STATUSES]
STATUS_LIST = [s.value for s in TaskStatus]


class BadParameter(ValueError):
    """A query parameter that cannot be understood: answered with 400 and the message."""


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class Query:
    """The parsed, authorised parameters of a statistics request."""

    root: str  # the division code everything is restricted to ("" = the whole country, superusers only)
    level: str
    statuses: list[str]
    priorities: list[int]
    since: datetime
    until: datetime
    group_by: str = "division"

    @property
    def level_length(self) -> int:
        return CODE_LENGTH[self.level]


def _now() -> datetime:
    return timezone.now()


def _parse_time(raw: str, *, end: bool = False) -> datetime:
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise BadParameter(f"not a date or date-time: {raw!r}")
        value = datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone()) + (
            timedelta(days=1) if end else timedelta()
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def parse_query(user, params) -> Query:
    """Read `division`, `level`, `group_by`, `status`, `priority`, `since`, `until`, `window`."""
    prefix = scope_code(user)
    if prefix is None:
        raise Http404
    root = (params.get("division") or "").strip() or prefix
    if not root.startswith(prefix) or (root and not Division.objects.filter(code=root).exists()):
        raise Http404  # outside the account's territory, or no such division: it does not exist
    group_by = params.get("group_by") or "division"
    if group_by not in GROUPS:
        raise BadParameter(f"group_by must be one of {', '.join(GROUPS)}")
    level = params.get("level")
    if level:
        if level not in LEVELS:
            raise BadParameter(f"level must be one of {', '.join(LEVELS)}")
        if CODE_LENGTH[level] < len(root):
            raise BadParameter("level must not be above the division asked for")
    else:
        level = _child_level(root)
    statuses = [s for s in (params.get("status") or "").split(",") if s]
    if any(s not in STATUS_LIST and s != "active" for s in statuses):
        raise BadParameter(f"status must be among {', '.join(STATUS_LIST)} or 'active'")
    if "active" in statuses:
        statuses = sorted(set(statuses) - {"active"} | set(ACTIVE_LIST))
    try:
        priorities = [int(p) for p in (params.get("priority") or "").split(",") if p]
    except ValueError:
        raise BadParameter("priority is a comma-separated list of 1..6") from None
    now = _now()
    window = params.get("window") or ("hour" if group_by == "hour" else "day")
    default_span = timedelta(hours=24) if window == "hour" else timedelta(days=14)
    until = _parse_time(params["until"], end=True) if params.get("until") else now
    since = _parse_time(params["since"]) if params.get("since") else until - default_span
    if since >= until:
        raise BadParameter("since must be before until")
    if until - since > timedelta(days=400):
        raise BadParameter("a window is at most 400 days")
    return Query(
        root=root,
        level=level,
        statuses=statuses,
        priorities=priorities,
        since=since,
        until=until,
        group_by=group_by,
    )


def _child_level(code: str) -> str:
    lengths = sorted(CODE_LENGTH.values())
    for length in lengths:
        if length > len(code):
            return LEVEL_BY_LENGTH[length]
    return Level.VILLAGE


def _names(codes) -> dict[str, str]:
    return dict(Division.objects.filter(code__in=[c for c in codes if c]).values_list("code", "name"))


def _fetch(sql: str, params: list) -> list[tuple]:
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _division_filter(q: Query, column: str = "division_code") -> tuple[str, list]:
    where = [f"{column} LIKE %s"]
    params: list[Any] = [q.root + "%"]
    if q.statuses:
        where.append("status = ANY(%s)")
        params.append(q.statuses)
    if q.priorities:
        where.append("priority = ANY(%s)")
        params.append(q.priorities)
    return " AND ".join(where), params


# ---- tables ----------------------------------------------------------------------------------------


def by_division(q: Query) -> Table:
    """Per division of `q.level` under `q.root`: total, active (backlog), clocks at warning / breached,
    unresolved (not yet resolved to a village), and one column per status."""
    where, params = _division_filter(q)
    status_cols = ", ".join(f"sum(n) FILTER (WHERE status = '{s}')" for s in STATUS_LIST)
    sql = f"""
        SELECT left(division_code, %s) AS code, sum(n) AS total,
               coalesce(sum(n) FILTER (WHERE status IN {ACTIVE}), 0),
               coalesce(sum(n) FILTER (WHERE status IN {ACTIVE} AND clock_state = 1), 0),
               coalesce(sum(n) FILTER (WHERE status IN {ACTIVE} AND clock_state = 2), 0),
               coalesce(sum(n) FILTER (WHERE status IN {ACTIVE} AND length(division_code) < 12), 0),
               {status_cols}
        FROM reports_divisioncount WHERE {where}
        GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1"""
    rows = _fetch(sql, [q.level_length, *params])
    names = _names(r[0] for r in rows)
    columns = ["code", "name", "total", "active", "warning", "overdue", "unresolved", *STATUS_LIST]
    return Table(
        "division",
        columns,
        [[r[0], names.get(r[0], ""), *(int(v or 0) for v in r[1:])] for r in rows],
        {"root": q.root, "level": q.level},
    )


def by_status(q: Query) -> Table:
    where, params = _division_filter(q)
    rows = dict(_fetch(f"SELECT status, sum(n) FROM reports_divisioncount WHERE {where} GROUP BY 1", params))
    return Table(
        "status",
        ["status", "label", "tasks"],
        [[s.value, str(s.label), int(rows.get(s.value) or 0)] for s in TaskStatus if rows.get(s.value)],
    )


def by_priority(q: Query) -> Table:
    from tasks.models import Priority

    where, params = _division_filter(q)
    active = f"coalesce(sum(n) FILTER (WHERE status IN {ACTIVE}), 0)"
    rows = {
        r[0]: r[1:]
        for r in _fetch(
            f"SELECT priority, sum(n), {active} FROM reports_divisioncount WHERE {where} GROUP BY 1", params
        )
    }
    return Table(
        "priority",
        ["priority", "label", "tasks", "active"],
        [
            [p.value, str(p.label), int(rows[p.value][0]), int(rows[p.value][1])]
            for p in Priority
            if p.value in rows
        ],
    )


def by_batch(q: Query, limit: int = 50) -> Table:
    """The latest intake batches (started in the window) and their tasks in the territory by status."""
    batches = list(
        IntakeBatch.objects.filter(started_at__gte=q.since, started_at__lt=q.until)
        .order_by("-started_at")
        .values("id", "started_at", "status", "leads")[:limit]
    )
    ids = [b["id"] for b in batches]
    counts: dict[int, dict[str, int]] = {}
    if ids:
        if len(q.root) <= 6 and not q.priorities:
            where, params = ["batch_id = ANY(%s)", "county LIKE %s"], [ids, q.root + "%"]
            if q.statuses:
                where.append("status = ANY(%s)")
                params.append(q.statuses)
            sql = f"SELECT batch_id, status, sum(n) FROM reports_batchcount WHERE {' AND '.join(where)} GROUP BY 1, 2"
        else:  # finer than a county, or filtered by priority: live, through the task_batch index
            where, params = ["batch_id = ANY(%s)", "division_id LIKE %s"], [ids, q.root + "%"]
            if q.statuses:
                where.append("status = ANY(%s)")
                params.append(q.statuses)
            if q.priorities:
                where.append("priority = ANY(%s)")
                params.append(q.priorities)
            sql = f"SELECT batch_id, status, count(*) FROM tasks_tracingtask WHERE {' AND '.join(where)} GROUP BY 1, 2"
        for batch_id, status, n in _fetch(sql, params):
            counts.setdefault(batch_id, {})[status] = int(n)
    rows = []
    for b in batches:
        c = counts.get(b["id"], {})
        rows.append(
            [
                b["id"],
                timezone.localtime(b["started_at"]).isoformat(),
                b["status"],
                b["leads"],
                sum(c.values()),
                sum(v for k, v in c.items() if k in ACTIVE_LIST),
                c.get(TaskStatus.NEW, 0),
            ]
        )
    return Table("batch", ["batch", "started_at", "batch_status", "leads", "tasks", "active", "new"], rows)


def by_source(q: Query) -> Table:
    """Leads received in the window by source (live: leads carry the source, tasks do not)."""
    sql = """SELECT l.source, count(*), count(DISTINCT k.task_id)
             FROM tasks_lead l LEFT JOIN tasks_leadlink k ON k.lead_id = l.id
             WHERE l.received_at >= %s AND l.received_at < %s AND l.division_id LIKE %s GROUP BY 1 ORDER BY 1"""
    from tasks.models import Source

    labels = dict(Source.choices)
    rows = _fetch(sql, [q.since, q.until, q.root + "%"])
    return Table(
        "source",
        ["source", "label", "leads", "tasks"],
        [[s, str(labels.get(s, s)), int(n), int(t)] for s, n, t in rows],
    )


def _local_midnight() -> datetime:
    local = timezone.localtime(_now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def by_kind(q: Query) -> Table:
    """Per work type (docs/worktypes.md): open now, closed today (local day), lost contact (closed with
    that outcome, kept visible), ended in the window — from the per-kind rollup (reports_kindcount). The
    window counts whole hours: every task ended in an hour the window touches."""
    from tasks.models import TaskKind

    sql = f"""SELECT kind, coalesce(sum(n) FILTER (WHERE status IN {ACTIVE}), 0),
                     coalesce(sum(n) FILTER (WHERE status = 'closed' AND closed_hour >= %s), 0),
                     coalesce(sum(n) FILTER (WHERE status = 'closed' AND outcome = 'lost_contact'), 0),
                     coalesce(sum(n) FILTER (WHERE status IN {ENDED} AND closed_hour >= {HOUR_OF} AND closed_hour < %s), 0)
              FROM reports_kindcount WHERE division_code LIKE %s GROUP BY 1 ORDER BY 1"""
    rows = {r[0]: r[1:] for r in _fetch(sql, [_local_midnight(), q.since, q.until, q.root + "%"])}
    return Table(
        "kind",
        ["kind", "label", "open", "closed_today", "lost_contact", "ended"],
        [[k.value, str(k.label), *(int(v) for v in rows.get(k.value, (0, 0, 0, 0)))] for k in TaskKind],
    )


def by_outcome(q: Query) -> Table:
    """Tasks ended in the window per kind and outcome (cancelled and merged as their own rows), from the
    per-kind rollup (whole hours, as by_kind)."""
    sql = f"""SELECT kind, CASE WHEN status = 'closed' THEN outcome ELSE status END, sum(n)
             FROM reports_kindcount
             WHERE status IN {ENDED} AND closed_hour >= {HOUR_OF} AND closed_hour < %s
               AND division_code LIKE %s
             GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2"""
    rows = _fetch(sql, [q.since, q.until, q.root + "%"])
    return Table("outcome", ["kind", "outcome", "tasks"], [[k, o, int(n)] for k, o, n in rows])


ENDED = "('closed', 'cancelled', 'merged')"
# The hour (UTC-aligned, as the rollup's) a moment falls in.
HOUR_OF = "date_bin('1 hour', %s::timestamptz, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


# A lead "hit" when its task found a risk: the verification said so, or the task ended as an investigation
# with an outcome other than no risk / false hit.
RISK_FOUND_SQL = "(t.verification_risk IS TRUE OR (t.kind = 'investigation' AND t.outcome NOT IN ('no_risk', 'false_hit')))"


def hit_rate(q: Query) -> Table:
    """Source quality for the commander: per source, the leads whose task closed in the window, and the
    share of them whose task found a risk, found no risk, or was a false hit."""
    from tasks.models import Source

    sql = f"""SELECT l.source, count(*), count(*) FILTER (WHERE {RISK_FOUND_SQL}),
                     count(*) FILTER (WHERE t.outcome = 'no_risk' AND NOT {RISK_FOUND_SQL}),
                     count(*) FILTER (WHERE t.outcome = 'false_hit')
              FROM tasks_tracingtask t
              JOIN tasks_leadlink k ON k.task_id = t.id
              JOIN tasks_lead l ON l.id = k.lead_id
              WHERE t.status = 'closed' AND t.closed_at >= %s AND t.closed_at < %s AND t.division_id LIKE %s
              GROUP BY 1 ORDER BY 1"""
    labels = dict(Source.choices)
    out = []
    for source, leads, risk, no_risk, false_hit in _fetch(sql, [q.since, q.until, q.root + "%"]):
        out.append(
            [
                source,
                str(labels.get(source, source)),
                int(leads),
                int(risk),
                int(no_risk),
                int(false_hit),
                _share(risk, leads),
                _share(no_risk, leads),
                _share(false_hit, leads),
            ]
        )
    columns = ["source", "label", "leads", "risk_found", "no_risk", "false_hit"]
    return Table("hit_rate", [*columns, "risk_found_share", "no_risk_share", "false_hit_share"], out)


EVENT_NAMES = (
    "created",
    "dispatched",
    "dispatched_ontime",
    "radius_limited",
    "radius_ontime",
    "traced",
    "traced_ontime",
    "approved",
)


def by_time(q: Query, window: str) -> Table:
    """Milestones per hour or (local) day in [since, until): from the hourly event rollup."""
    tz = timezone.get_current_timezone_name()
    bucket = (
        "hour" if window == "hour" else f"(date_trunc('day', hour AT TIME ZONE '{tz}') AT TIME ZONE '{tz}')"
    )
    cols = ", ".join(f"coalesce(sum(n) FILTER (WHERE event = '{e}'), 0)" for e in EVENT_NAMES)
    sql = f"""SELECT {bucket} AS b, {cols} FROM reports_eventcount
              WHERE hour >= %s AND hour < %s AND county LIKE %s GROUP BY 1 ORDER BY 1"""
    if len(q.root) > 6 or q.statuses or q.priorities:
        # Finer than a county (the rollup is per county) or filtered: count live within the window.
        return _by_time_live(q, window)
    rows = _fetch(sql, [q.since, q.until, q.root + "%"])
    out = []
    for r in rows:
        created, dispatched, d_ok, radius, r_ok, traced, t_ok, approved = (int(v) for v in r[1:])
        out.append(
            [
                timezone.localtime(r[0]).isoformat(),
                created,
                dispatched,
                radius,
                traced,
                approved,
                _share(d_ok, dispatched),
                _share(r_ok, radius),
                _share(t_ok, traced),
            ]
        )
    return Table(
        window, [window, *TIME_COLUMNS], out, {"since": q.since.isoformat(), "until": q.until.isoformat()}
    )


TIME_COLUMNS = [
    "created",
    "dispatched",
    "radius_limited",
    "traced",
    "approved",
    "dispatch_sla",
    "radius_sla",
    "trace_sla",
]


def _by_time_live(q: Query, window: str) -> Table:
    tz = timezone.get_current_timezone_name()
    unit = "hour" if window == "hour" else "day"
    rows: dict[datetime, dict[str, int]] = {}
    for name, col, ok in (
        ("created", "created_at", "true"),
        ("dispatched", "dispatched_at", "dispatched_at <= dispatch_due"),
        ("radius_limited", "radius_limited_at", "radius_limited_at <= radius_due"),
        ("traced", "traced_at", "traced_at <= trace_due"),
        ("approved", "approved_at", "true"),
    ):
        sql = f"""SELECT date_trunc('{unit}', {col} AT TIME ZONE '{tz}') AT TIME ZONE '{tz}', count(*), count(*) FILTER (WHERE {ok})
                  FROM tasks_tracingtask WHERE division_id LIKE %s AND {col} >= %s AND {col} < %s GROUP BY 1"""
        for b, n, n_ok in _fetch(sql, [q.root + "%", q.since, q.until]):
            rows.setdefault(b, {})[name] = int(n)
            rows[b][name + "_ok"] = int(n_ok)
    out = []
    for b in sorted(rows):
        c = rows[b]
        out.append(
            [
                timezone.localtime(b).isoformat(),
                c.get("created", 0),
                c.get("dispatched", 0),
                c.get("radius_limited", 0),
                c.get("traced", 0),
                c.get("approved", 0),
                _share(c.get("dispatched_ok", 0), c.get("dispatched", 0)),
                _share(c.get("radius_limited_ok", 0), c.get("radius_limited", 0)),
                _share(c.get("traced_ok", 0), c.get("traced", 0)),
            ]
        )
    return Table(
        window, [window, *TIME_COLUMNS], out, {"since": q.since.isoformat(), "until": q.until.isoformat()}
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@reads_from_replica
def table(q: Query) -> Table:
    if q.group_by == "division":
        return by_division(q)
    if q.group_by == "status":
        return by_status(q)
    if q.group_by == "priority":
        return by_priority(q)
    if q.group_by == "batch":
        return by_batch(q)
    if q.group_by == "source":
        return by_source(q)
    if q.group_by == "kind":
        return by_kind(q)
    if q.group_by == "outcome":
        return by_outcome(q)
    if q.group_by == "hit_rate":
        return hit_rate(q)
    return by_time(q, q.group_by)


# ---- SLA -------------------------------------------------------------------------------------------


@reads_from_replica
def sla(q: Query) -> dict:
    """Compliance in [since, until) (share of milestones met by their deadline: dispatch in 30 min,
    radius in 3 h, trajectory in 10 h) and median times, for tasks dispatched in the window (live, through
    the reports_task_dispatched_at index), and the current backlog and overdue counts (rollup)."""
    window_minutes = settings.DISPATCH_WINDOW_MINUTES
    # percentile_disc over intervals (no float conversion); the three sorts in memory (SET LOCAL).
    sql = """SELECT count(*),
               count(*) FILTER (WHERE dispatched_at <= dispatch_due),
               count(radius_limited_at), count(*) FILTER (WHERE radius_limited_at <= radius_due),
               count(traced_at), count(*) FILTER (WHERE traced_at <= trace_due),
               extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY dispatched_at - dispatch_due)) + %s * 60,
               extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY radius_limited_at - dispatched_at)),
               extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY traced_at - dispatched_at))
             FROM tasks_tracingtask
             WHERE dispatched_at >= %s AND dispatched_at < %s AND dispatched_at IS NOT NULL AND division_id LIKE %s"""
    with transaction.atomic(using=read_alias()):
        with read_connection().cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '64MB'")
        ((n, d_ok, radius, r_ok, traced, t_ok, m_d, m_r, m_t),) = _fetch(
            sql, [window_minutes, q.since, q.until, q.root + "%"]
        )
    where, params = _division_filter(Query(q.root, q.level, [], q.priorities, q.since, q.until))
    backlog, warning, overdue = _fetch(
        f"""SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE clock_state = 1), 0), coalesce(sum(n) FILTER (WHERE clock_state = 2), 0)
            FROM reports_divisioncount WHERE {where} AND status IN {ACTIVE}""",
        params,
    )[0]

    def minutes(seconds):
        return round(float(seconds) / 60, 1) if seconds is not None else None

    return {
        "division": q.root,
        "since": q.since.isoformat(),
        "until": q.until.isoformat(),
        "dispatched": n,
        "dispatch_within_30_min": _share(d_ok, n),
        "radius_limited": radius,
        "radius_within_3_h": _share(r_ok, radius),
        "traced": traced,
        "traced_within_10_h": _share(t_ok, traced),
        "median_minutes": {"dispatch": minutes(m_d), "radius": minutes(m_r), "trace": minutes(m_t)},
        "backlog": int(backlog),
        "warning": int(warning),
        "overdue": int(overdue),
    }


# ---- dashboard -------------------------------------------------------------------------------------


@reads_from_replica
def clock_lists(
    root: str, now: datetime, *, limit: int = 15, horizon_minutes: int = 60
) -> dict[str, list[dict]]:
    """Active tasks whose earliest running deadline has passed (breached) or comes within the horizon
    (about to expire), earliest first; through the reports_task_running_deadline index."""
    out = {}
    for key, cond, params, order in (
        ("breached", f"{RUNNING_DEADLINE} <= %s", [now], "ASC"),
        (
            "expiring",
            f"{RUNNING_DEADLINE} > %s AND {RUNNING_DEADLINE} <= %s",
            [now, now + timedelta(minutes=horizon_minutes)],
            "ASC",
        ),
    ):
        sql = f"""SELECT id, division_id, status, priority, {RUNNING_DEADLINE} AS deadline FROM tasks_tracingtask
                  WHERE status IN {ACTIVE} AND {cond} AND division_id LIKE %s ORDER BY {RUNNING_DEADLINE} {order}, id LIMIT %s"""
        rows = _fetch(sql, [*params, root + "%", limit])
        out[key] = [
            {
                "id": r[0],
                "division": r[1],
                "status": r[2],
                "priority": r[3],
                "deadline": r[4].isoformat(),
                "minutes": round((r[4] - now).total_seconds() / 60),
                "url": reverse("report_task", args=[r[0]]),
            }
            for r in rows
        ]
    return out


@reads_from_replica
def dashboard(user, root: str, now: datetime | None = None) -> dict:
    """The duty officer's live picture of `root` (already authorised)."""
    now = now or _now()
    level = _child_level(root)
    q = Query(root=root, level=level, statuses=[], priorities=[], since=now - timedelta(hours=24), until=now)
    divisions = by_division(q)
    by_state: dict[str, int] = {}
    for row in divisions.as_dicts():  # the per-status columns of the division table: no second scan
        for status in STATUS_LIST:
            if row[status]:
                by_state[status] = by_state.get(status, 0) + row[status]
    totals = {"total": 0, "active": 0, "warning": 0, "overdue": 0, "unresolved": 0}
    for row in divisions.as_dicts():
        for key in totals:
            totals[key] += row[key]
    last = (
        IntakeBatch.objects.order_by("-started_at", "-id")
        .values("id", "started_at", "finished_at", "status", "leads", "new_tasks")
        .first()
    )
    batches: dict[str, Any] = {"last": None, "next_at": None}
    if last:
        in_scope = (
            _fetch(
                "SELECT coalesce(sum(n), 0) FROM reports_batchcount WHERE batch_id = %s AND county LIKE %s",
                [last["id"], root[:6] + "%"],
            )[0][0]
            if len(root) <= 6
            else _fetch(
                "SELECT count(*) FROM tasks_tracingtask WHERE batch_id = %s AND division_id LIKE %s",
                [last["id"], root + "%"],
            )[0][0]
        )
        batches["last"] = {
            "id": last["id"],
            "started_at": last["started_at"].isoformat(),
            "status": last["status"],
            "leads": last["leads"],
            "new_tasks": last["new_tasks"],
            "tasks_here": int(in_scope),
            "url": reverse("intake_batch", args=[last["id"]]),
        }
        batches["next_at"] = (
            last["started_at"] + timedelta(minutes=settings.INTAKE_INTERVAL_MINUTES)
        ).isoformat()
    transfers = transfers_visible_to(user).filter(status="pending").count()
    trend = by_time(Query(root, level, [], [], now - timedelta(hours=24), now), "hour")
    max_active = max((r["active"] for r in divisions.as_dicts()), default=0)
    return {
        "generated_at": now.isoformat(),
        "division": {"code": root, "name": _names([root]).get(root, ""), "level": level},
        "batches": batches,
        "by_status": by_state,
        "totals": totals,
        "clocks": clock_lists(root, now),
        "queues": {
            "unresolved": totals["unresolved"],
            "transfers_pending": transfers,
            "unresolved_url": reverse("unresolved_queue"),
            "transfers_url": reverse("transfer_inbox"),
        },
        "divisions": [
            {
                **{
                    k: row[k] for k in ("code", "name", "total", "active", "warning", "overdue", "unresolved")
                },
                "load": round(row["active"] / max_active, 3) if max_active else 0.0,
            }
            for row in divisions.as_dicts()
        ],
        "trend": {"columns": trend.columns, "rows": trend.rows},
        # Work types: open / closed today / lost contact per kind (the per-kind rollup).
        "by_kind": by_kind(Query(root, level, [], [], now - timedelta(hours=24), now)).as_dicts(),
    }


def dashboard_json(user, root: str) -> bytes:
    """The dashboard data as JSON bytes, shared by every reader of the same territory for
    DASHBOARD_CACHE_SECONDS (default 2 s; 0 = off): many officers polling one county cost one
    computation per interval and no re-encoding. The payload depends on the territory only (counts, clock
    lists and transfer queue of `root`), never on the reader."""
    import json

    from django.core.cache import cache
    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils.translation import get_language

    from tasks.models import IntakeBatch

    seconds = settings.DASHBOARD_CACHE_SECONDS
    # The labels are in the reader's language: one cached body per territory and language.
    key = f"reports:dashboard:{get_language()}:{root or '-'}"
    if seconds > 0:
        body = cache.get(key)
        if body is not None:
            return body
    data = dashboard(user, root)
    data["labels"] = {
        "status": {s.value: str(s.label) for s in TaskStatus},
        "batch_status": {s.value: str(s.label) for s in IntakeBatch.Status},
    }
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()
    if seconds > 0:
        cache.set(key, body, seconds)
    return body
