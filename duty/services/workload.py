"""The workload of members and teams in a territory: open tasks by kind and clock state, tasks due in the
next hour, breached tasks and median handling times, with a suggested rebalancing per sub-unit and team.

Everything is set-based: one scan of the territory's open tasks grouped by GROUPING SETS (per member and
per team at once), one for the medians, one for the suggestions (members' loads from the
task_assignee_status index, the tasks to move picked in a LATERAL subquery). A task's clock state is
computed from its row like the sweep does (tasks/clocks.py): `breached` when a running clock is past its
deadline, `warning` when one is past its warning moment (80 % of its window), else `ok`.

Rebalancing: in each sub-unit and team, when its most loaded member has at least two open tasks more than
its least loaded one, suggest moving half the difference — only tasks of that unit's territory that the
least loaded member may work on (inside their scope: a village sub-unit's member takes only that village's
tasks). The leader applies a suggestion with one click through the bulk assignment
(tasks.workflow.task_assign_bulk), which checks all of it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from tasks.clocks import CLOCKS
from tasks.models import Unit, UnitMembership, User
from tasks.models.tracing import ACTIVE_STATUSES, TaskKind
from tasks.workflow import ASSIGNABLE, ASSIGNEE_ROLES

STATES = ("ok", "warning", "breached")
MEDIAN_WINDOW = timedelta(days=7)
# The moment a task's work was handed in: the submission of an investigation, the receipt of a
# verification, the registration of a returnee.
DONE_AT = "COALESCE(t.submitted_at, t.verified_at, t.registered_at)"


def _state_sql() -> str:
    """0 ok, 1 warning, 2 breached: the worst of the task's running clocks at %(now)s."""
    parts = []
    for clock in CLOCKS:
        warning = int(clock.warning_before_due.total_seconds())
        due, stop = f"t.{clock.due_field}", f"t.{clock.stop_field}"
        parts.append(
            f"CASE WHEN {due} IS NULL OR {stop} IS NOT NULL THEN 0 WHEN {due} <= %(now)s THEN 2 "
            f"WHEN {due} - interval '{warning} seconds' <= %(now)s THEN 1 ELSE 0 END"
        )
    return "GREATEST(" + ", ".join(parts) + ")"


def _next_due_sql() -> str:
    parts = [f"CASE WHEN t.{c.stop_field} IS NULL THEN t.{c.due_field} END" for c in CLOCKS]
    return "LEAST(" + ", ".join(parts) + ")"


def _empty_counts() -> dict:
    return {
        "open": 0,
        "by_kind": {kind: dict.fromkeys(STATES, 0) for kind in TaskKind.values},
        "by_state": dict.fromkeys(STATES, 0),
        "due_next_hour": 0,
        "breached": 0,
        "median_handling_minutes": None,
    }


def workload(prefix: str, *, now: datetime | None = None) -> dict:
    """The workload of the territory `prefix` (a division code; "" for everything)."""
    now = now or timezone.now()
    params: dict[str, Any] = {
        "prefix": prefix + "%",
        "now": now,
        "next_hour": now + timedelta(hours=1),
        "since": now - MEDIAN_WINDOW,
        "active": list(ACTIVE_STATUSES),
        "assignable": sorted(ASSIGNABLE),
        "roles": sorted(ASSIGNEE_ROLES),
    }
    counts_sql = f"""
        WITH open AS (
            SELECT t.kind, t.assignee_id, t.team_id, {_state_sql()} AS state, {_next_due_sql()} AS next_due
            FROM tasks_tracingtask t
            WHERE t.division_id LIKE %(prefix)s AND t.status = ANY(%(active)s)
        )
        SELECT GROUPING(assignee_id) = 0 AS per_member,
               CASE WHEN GROUPING(assignee_id) = 0 THEN assignee_id ELSE team_id END AS key,
               kind, state, count(*),
               count(*) FILTER (WHERE next_due > %(now)s AND next_due <= %(next_hour)s)
        FROM open
        GROUP BY GROUPING SETS ((assignee_id, kind, state), (team_id, kind, state))
    """
    median_sql = f"""
        SELECT GROUPING(t.assignee_id) = 0 AS per_member,
               CASE WHEN GROUPING(t.assignee_id) = 0 THEN t.assignee_id ELSE t.team_id END AS key,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM {DONE_AT} - t.dispatched_at))
        FROM tasks_tracingtask t
        WHERE t.division_id LIKE %(prefix)s AND t.dispatched_at IS NOT NULL
          AND {DONE_AT} >= %(since)s AND {DONE_AT} <= %(now)s
        GROUP BY GROUPING SETS ((t.assignee_id), (t.team_id))
    """
    members: dict[int | None, dict] = {}
    teams: dict[int | None, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(counts_sql, params)
        for per_member, key, kind, state, count, due_soon in cursor.fetchall():
            row = (members if per_member else teams).setdefault(key, _empty_counts())
            name = STATES[state]
            row["open"] += count
            row["by_kind"].setdefault(kind, dict.fromkeys(STATES, 0))[name] += count
            row["by_state"][name] += count
            row["due_next_hour"] += due_soon
            if name == "breached":
                row["breached"] += count
        cursor.execute(median_sql, params)
        for per_member, key, seconds in cursor.fetchall():
            row = (members if per_member else teams).setdefault(key, _empty_counts())
            row["median_handling_minutes"] = round(seconds / 60, 1) if seconds is not None else None
        suggestions = _suggestions(cursor, params)

    # Members of the territory's teams and sub-unit without any open task are shown too (load 0).
    member_units = _member_units(prefix)
    for user_id in member_units:
        members.setdefault(user_id, _empty_counts())
    unassigned = members.pop(None, None)
    users = User.objects.in_bulk([k for k in members if k is not None])
    team_units = Unit.objects.in_bulk([k for k in teams if k is not None])
    for unit in Unit.objects.filter(kind=Unit.Kind.TEAM, division__code__startswith=prefix):
        team_units.setdefault(unit.pk, unit)
        teams.setdefault(unit.pk, _empty_counts())
    no_team = teams.pop(None, None)

    member_rows = []
    for member_id, row in members.items():
        user = users.get(member_id) if member_id is not None else None
        if user is None:
            continue
        member_rows.append(
            {
                "id": member_id,
                "username": user.username,
                "full_name": user.full_name,
                "division_code": user.division_id,
                "units": member_units.get(user.pk, []),
                **row,
            }
        )
    member_rows.sort(key=lambda r: (-r["open"], r["username"]))
    team_rows = [
        {
            "id": unit_id,
            "name": team_units[unit_id].name,
            "division_code": team_units[unit_id].division_id,
            **row,
        }
        for unit_id, row in teams.items()
        if unit_id in team_units
    ]
    team_rows.sort(key=lambda r: r["division_code"])
    return {
        "division": prefix,
        "now": timezone.localtime(now).isoformat(),
        "members": member_rows,
        "teams": team_rows,
        "unassigned": unassigned or _empty_counts(),
        "without_team": no_team or _empty_counts(),
        "suggestions": suggestions,
    }


def _member_units(prefix: str) -> dict[int, list[dict]]:
    rows = (
        UnitMembership.objects.filter(
            unit__division__code__startswith=prefix,
            unit__kind__in=[Unit.Kind.TEAM, Unit.Kind.SUBUNIT],
            user__is_active=True,
            user__role__in=ASSIGNEE_ROLES,
        )
        .values_list("user_id", "unit_id", "unit__name", "unit__kind")
        .order_by("unit__division_id")
    )
    found: dict[int, list[dict]] = {}
    for user_id, unit_id, name, kind in rows:
        found.setdefault(user_id, []).append({"id": unit_id, "name": name, "kind": kind})
    return found


SUGGESTION_SQL = """
    WITH open AS MATERIALIZED (
        SELECT t.id, t.assignee_id, t.division_id, t.status, t.priority
        FROM tasks_tracingtask t
        WHERE t.division_id LIKE %(prefix)s AND t.status = ANY(%(active)s) AND t.assignee_id IS NOT NULL
    ),
    loads AS (SELECT assignee_id, count(*) AS load FROM open GROUP BY assignee_id),
    members AS (
        SELECT un.id AS unit_id, un.kind, un.name, un.division_id AS unit_division,
               u.id AS user_id, u.username, u.full_name, u.division_id AS scope, COALESCE(l.load, 0) AS load
        FROM tasks_unit un
        JOIN tasks_unitmembership m ON m.unit_id = un.id
        JOIN tasks_user u ON u.id = m.user_id
        LEFT JOIN loads l ON l.assignee_id = u.id
        WHERE un.division_id LIKE %(prefix)s AND un.kind IN ('team', 'subunit')
          AND u.is_active AND u.role = ANY(%(roles)s) AND u.division_id IS NOT NULL
    ),
    ranked AS (
        SELECT *, row_number() OVER (PARTITION BY unit_id ORDER BY load DESC, user_id) AS top,
                  row_number() OVER (PARTITION BY unit_id ORDER BY load, user_id) AS bottom
        FROM members
    ),
    pairs AS MATERIALIZED (
        SELECT a.unit_id, a.kind, a.name, a.unit_division,
               a.user_id AS from_id, a.username AS from_username, a.full_name AS from_name, a.load AS from_load,
               b.user_id AS to_id, b.username AS to_username, b.full_name AS to_name, b.load AS to_load,
               b.scope AS to_scope, (a.load - b.load) / 2 AS n
        FROM ranked a JOIN ranked b ON b.unit_id = a.unit_id AND b.bottom = 1
        WHERE a.top = 1 AND a.load - b.load >= 2
    ),
    picked AS (
        -- Work not started yet moves first, the least urgent first.
        SELECT p.unit_id, o.id, p.n,
               row_number() OVER (PARTITION BY p.unit_id
                                  ORDER BY (o.status IN ('dispatched', 'received')) DESC, o.priority DESC, o.id DESC) AS k
        FROM pairs p JOIN open o ON o.assignee_id = p.from_id
        WHERE o.status = ANY(%(assignable)s)
          AND o.division_id LIKE p.unit_division || '%%' AND o.division_id LIKE p.to_scope || '%%'
    ),
    chosen AS MATERIALIZED (
        SELECT unit_id, array_agg(id ORDER BY id) AS ids FROM picked WHERE k <= n GROUP BY unit_id
    )
    SELECT p.unit_id, p.kind, p.name, p.from_id, p.from_username, p.from_name, p.from_load,
           p.to_id, p.to_username, p.to_name, p.to_load, c.ids
    FROM pairs p JOIN chosen c ON c.unit_id = p.unit_id
    ORDER BY p.from_load - p.to_load DESC, p.unit_id
"""


def _suggestions(cursor, params: dict) -> list[dict]:
    cursor.execute(SUGGESTION_SQL, params)
    taken: set[int] = set()
    out = []
    for (
        unit_id,
        kind,
        name,
        from_id,
        from_user,
        from_name,
        from_load,
        to_id,
        to_user,
        to_name,
        to_load,
        ids,
    ) in cursor.fetchall():
        # A member of a sub-unit is usually a member of its team too: a task is suggested once.
        ids = [i for i in ids if i not in taken]
        if not ids:
            continue
        taken.update(ids)
        out.append(
            {
                "unit": {"id": unit_id, "kind": kind, "name": name},
                "from": {"id": from_id, "username": from_user, "full_name": from_name, "open": from_load},
                "to": {"id": to_id, "username": to_user, "full_name": to_name, "open": to_load},
                "count": len(ids),
                "task_ids": ids,
                "apply": {
                    "url": "/api/v1/tasks/bulk-assign/",
                    "body": {"task_ids": ids, "assignee": to_id, "reason": "workload rebalancing"},
                },
            }
        )
    return out


def workload_json(prefix: str) -> bytes:
    """The workload of `prefix` as JSON bytes, shared by every reader of that territory for
    WORKLOAD_CACHE_SECONDS (0 = off; duty/services/shared.py): leaders and desks polling one county cost
    one computation per interval, in the background. The answer depends on the territory only, never on
    the reader."""
    import json

    from django.conf import settings
    from django.core.serializers.json import DjangoJSONEncoder

    from .shared import shared_answer

    def compute() -> bytes:
        return json.dumps(
            workload(prefix), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")
        ).encode()

    return shared_answer(f"duty:workload:{prefix or '-'}", settings.WORKLOAD_CACHE_SECONDS, compute)
