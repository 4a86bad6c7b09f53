"""A positive result or an abnormal check-in opens or escalates a P1 investigation of the person.

Set-based, for any number of persons at once, in the caller's transaction:

* a person with an active task: the task becomes priority 1, and an investigation if it was a lighter
  kind (its new clocks start now, the history records the change of kind, as the intake's triage does
  when a more serious lead arrives: tasks/intake.py `_escalate_open_tasks`);
* a person without one: a P1 lead of the person goes into the intake (the path every task takes), with
  the territory of the person's open monitoring period, else of their latest task, else the one the
  caller gives (the lab's). The default triage table makes every P1 lead an investigation; the intake
  is asked to run as soon as the transaction commits (the 10-minute beat catches up when the broker is
  down). One such lead per person and day at most (its external id), so a second positive the same
  day does not queue a second one.

Every open monitoring period of the persons is marked escalated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from tasks.clocks import clock_windows, kind_change_cols, next_alert_sql
from tasks.models import ACTIVE_STATUSES

from ..models.periods import OPEN_STATES

_ACTIVE = list(ACTIVE_STATUSES)
_OPEN = list(OPEN_STATES)
# Leads this app puts into the intake: source "manual" (no source of its own in the intake's table),
# their external ids say why.
LEAD_SOURCE = "manual"
LEAD_CHANNEL = "monitoring"


@dataclass
class EscalationResult:
    escalated: int = 0  # active tasks made investigations
    prioritised: int = 0  # active tasks raised to P1
    leads: int = 0  # P1 leads queued for persons without an active task
    periods: int = 0  # monitoring periods marked escalated


def open_or_escalate_investigation(
    person_ids: Iterable[int],
    reason: str,
    now: datetime | None = None,
    *,
    divisions: Mapping[int, str] | None = None,
) -> EscalationResult:
    """Open or escalate a P1 investigation for each person (see the module docstring). `divisions`:
    {person id: division code} where a person without a task or period belongs (the lab's territory)."""
    now = now or timezone.now()
    ids = sorted({int(p) for p in person_ids})
    result = EscalationResult()
    if not ids:
        return result
    fallback = dict(divisions or {})
    new_kind = "'investigation'"
    cols = {"kind": f"{new_kind}", **kind_change_cols(new_kind, "%(now)s")}
    kind_sets = ", ".join(
        f"{column} = CASE WHEN t.kind <> 'investigation' THEN {expr} ELSE t.{column} END"
        for column, expr in cols.items()
    )
    next_alert = next_alert_sql(cols)
    day = timezone.localtime(now).strftime("%Y%m%d")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH esc AS MATERIALIZED (
                SELECT t.id, t.kind AS old_kind, t.priority AS old_priority
                FROM tasks_tracingtask t
                WHERE t.person_id = ANY(%(ids)s) AND t.status = ANY(%(active)s)
                  AND (t.kind <> 'investigation' OR t.priority > 1)
                ORDER BY t.id
                FOR UPDATE
            ),
            upd AS (
                UPDATE tasks_tracingtask t SET
                    {kind_sets},
                    next_alert_at = CASE WHEN t.kind <> 'investigation' THEN {next_alert} ELSE t.next_alert_at END,
                    priority = 1,
                    updated_at = %(now)s,
                    version = t.version + 1
                FROM esc WHERE t.id = esc.id
                RETURNING t.id, t.status, t.kind
            ),
            history AS (
                INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
                SELECT upd.id, upd.status, upd.status, NULL, %(now)s, %(reason)s,
                       CASE WHEN esc.old_kind <> upd.kind
                            THEN jsonb_build_object('kind', jsonb_build_object('from', esc.old_kind, 'to', upd.kind))
                            ELSE '{{}}'::jsonb END
                       || jsonb_build_object('priority', jsonb_build_object('from', esc.old_priority, 'to', 1))
                FROM upd JOIN esc ON esc.id = upd.id
                ORDER BY upd.id
                RETURNING 1
            )
            SELECT count(*) FILTER (WHERE esc.old_kind <> 'investigation'),
                   count(*) FILTER (WHERE esc.old_priority > 1),
                   (SELECT count(*) FROM history)
            FROM esc
            """,
            {**clock_windows(), "ids": ids, "active": _ACTIVE, "now": now, "reason": reason},
        )
        result.escalated, result.prioritised, _history = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO tasks_lead (source, external_id, id_type, id_number, id_region_unknown, id_number_hash,
                name, name_hash, phone, phone_hash, division_id, address, reason, reported_at, received_at, payload,
                priority, person_key, channel)
            SELECT %(source)s, 'monitoring-' || p.id || '-' || %(day)s, p.id_type, p.id_number, false,
                   p.id_number_hash, p.name, p.name_hash, p.phone, p.phone_hash, w.division_id, '', %(reason)s, %(now)s,
                   %(now)s, jsonb_build_object('monitoring', true), 1, p.person_key, %(channel)s
            FROM tasks_person p
            CROSS JOIN LATERAL (
                SELECT coalesce(
                    (SELECT mp.division_id FROM monitoring_monitoringperiod mp
                     WHERE mp.person_id = p.id AND mp.state = ANY(%(open)s)),
                    (SELECT t.division_id FROM tasks_tracingtask t
                     WHERE t.person_id = p.id ORDER BY t.created_at DESC, t.id DESC LIMIT 1),
                    (%(fallback)s::jsonb ->> p.id::text)
                ) AS division_id
            ) w
            WHERE p.id = ANY(%(ids)s) AND w.division_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM tasks_tracingtask t
                              WHERE t.person_id = p.id AND t.status = ANY(%(active)s))
            ORDER BY p.id
            ON CONFLICT (source, external_id) WHERE NOT (external_id = '') DO NOTHING
            """,
            {
                "ids": ids,
                "active": _ACTIVE,
                "open": _OPEN,
                "now": now,
                "day": day,
                "reason": reason,
                "source": LEAD_SOURCE,
                "channel": LEAD_CHANNEL,
                "fallback": _json({str(k): v for k, v in fallback.items() if v}),
            },
        )
        result.leads = cursor.rowcount
        cursor.execute(
            """
            UPDATE monitoring_monitoringperiod SET state = 'escalated', state_changed_at = %(now)s,
                updated_at = %(now)s
            WHERE person_id = ANY(%(ids)s) AND state = 'running'
            """,
            {"ids": ids, "now": now},
        )
        result.periods = cursor.rowcount
    if result.leads:
        _run_intake_soon()
    return result


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def _run_intake_soon() -> None:
    from tasks.tasks import run_intake
    from tracing_center.enqueue import enqueue_on_commit

    enqueue_on_commit(run_intake)
