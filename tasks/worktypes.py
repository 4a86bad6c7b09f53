"""Work types and the end of a task (docs/worktypes.md): change of kind, the sub-unit's verification
outcome, close / cancel / reopen / merge, and the bulk close in set SQL.

Same conventions as tasks/workflow.py: atomic, keyword-only, the task row locked, the role and the
territory checked (`PermissionDenied`), the move checked (`IllegalTransition`, 409 naming from and to),
one TaskTransition per move with who, when, why, and `next_alert_at` recomputed in the same save (an
ended task has no running clock: tasks/clocks.py CLOCKLESS_STATUSES).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import hooks
from .clocks import CLOCK_BY_NAME, restart_kind_clocks
from .models import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    KIND_OUTCOMES,
    KIND_RANK,
    CloseContact,
    ContactAttempt,
    Lead,
    LeadLink,
    Person,
    RadiusControl,
    Registration,
    TaskKind,
    TaskOutcome,
    TaskStatus,
    TestResult,
    TracingTask,
    TrajectoryEntry,
    User,
)
from .roles import can
from .selectors import in_scope, scope_code
from .workflow import CLOSABLE, IllegalTransition, _lock, _move, _record, _require, _save, check_transition

S = TaskStatus

# The sub-unit's answer to a verification (`found` of POST /api/v1/tasks/{id}/verification/).
FOUND_VALUES = ("here", "not_found", "moved_away", "false_hit")


def _ended(task_ids: list[int], now: datetime) -> None:
    """Tell the apps built on tasks (their receivers, e.g. the source feedback) which tasks just ended."""
    hooks.tasks_ended(task_ids, now)


def _required_text(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: _("This field is required.")})
    return value


# --- kind ----------------------------------------------------------------------------------------


def _set_kind(task: TracingTask, kind: str, *, actor: User | None, now: datetime, reason: str) -> None:
    old = task.kind
    task.kind = kind
    fields = restart_kind_clocks(task, now)
    _save(task, now, ["kind", *fields])
    _record(
        task,
        from_status=task.status,
        to_status=task.status,
        actor=actor,
        now=now,
        reason=reason,
        kind={"from": old, "to": kind},
    )


@transaction.atomic
def task_change_kind(
    *, task: TracingTask, actor: User, kind: str, reason: str, now: datetime | None = None
) -> TracingTask:
    """The duty officer or team leader escalates or de-escalates an open task; its new kind's clocks
    start now."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.kind", task.division_id)
    if kind not in TaskKind.values:
        raise ValidationError({"kind": _("Choose verification, investigation or registration.")})
    reason = _required_text(reason, "reason")
    if task.status not in ACTIVE_STATUSES or task.status == S.TRANSFERRING:
        raise IllegalTransition(
            task.status, task.status, _("Only an open task that is not being transferred can change kind.")
        )
    if task.kind == kind:
        raise ValidationError({"kind": _("The task is already of this kind.")})
    _set_kind(task, kind, actor=actor, now=now, reason=reason)
    return task


# --- close, cancel, reopen -----------------------------------------------------------------------


def _check_outcome(task: TracingTask, outcome: str, note: str) -> None:
    if outcome not in TaskOutcome.values:
        raise ValidationError({"outcome": _("Unknown outcome.")})
    if outcome not in KIND_OUTCOMES[task.kind]:
        raise ValidationError(
            {"outcome": _("A task of this kind cannot close with this outcome.")},
        )
    if outcome == TaskOutcome.OTHER and not (note or "").strip():
        raise ValidationError({"note": _("Say what the outcome was.")})


def _close(task: TracingTask, *, actor: User | None, outcome: str, note: str, now: datetime) -> TracingTask:
    _check_outcome(task, outcome, note)
    check_transition(task.status, S.CLOSED)
    task.outcome = outcome
    task.closed_at = now
    task = _move(
        task,
        S.CLOSED,
        actor=actor,
        now=now,
        reason=note or str(TaskOutcome(outcome).label),
        fields=["outcome", "closed_at"],
        outcome=outcome,
    )
    _ended([task.pk], now)
    return task


@transaction.atomic
def task_close(
    *, task: TracingTask, actor: User, outcome: str, note: str = "", now: datetime | None = None
) -> TracingTask:
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.close", task.division_id)
    return _close(task, actor=actor, outcome=outcome, note=note, now=now)


@transaction.atomic
def task_close_released(
    *, task: TracingTask, actor: User, note: str = "", now: datetime | None = None
) -> TracingTask | None:
    """The person's health monitoring ended with release (monitoring/): the task closes with the outcome
    "released". The field roles that release a person may do this close (not only those who close
    tasks), inside their territory. A task that has already ended is left as it is (None)."""
    now = now or timezone.now()
    task = _lock(task)
    if not (can(actor, "task.close") or can(actor, "task.fieldwork")):
        raise PermissionDenied(_("Your role may not do this."))
    _require(actor, "task.view", task.division_id)
    if task.status in ENDED_STATUSES:
        return None
    return _close(task, actor=actor, outcome=TaskOutcome.RELEASED, note=note, now=now)


@transaction.atomic
def task_cancel(*, task: TracingTask, actor: User, reason: str, now: datetime | None = None) -> TracingTask:
    """A duplicate or a task entered in error: ended without an outcome."""
    from .workflow import task_change_status

    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.close", task.division_id)
    reason = _required_text(reason, "reason")
    check_transition(task.status, S.CANCELLED)
    task = task_change_status(
        task=task, to_status=S.CANCELLED, actor=actor, reason=reason, now=now, closed_at=now
    )
    _ended([task.pk], now)
    return task


def reopen_target(task: TracingTask) -> str:
    """The state a closed task returns to: the one it was closed from."""
    last = task.transitions.filter(to_status=S.CLOSED).order_by("-at", "-id").first()
    return last.from_status if last and last.from_status in CLOSABLE else S.DISPATCHED


@transaction.atomic
def task_reopen(*, task: TracingTask, actor: User, reason: str, now: datetime | None = None) -> TracingTask:
    """A closed task, within REOPEN_DAYS of its close, returns to the state it was closed from; its
    kind's clocks start again from now."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.close", task.division_id)
    reason = _required_text(reason, "reason")
    if task.status != S.CLOSED:
        raise IllegalTransition(task.status, "reopened", _("Only a closed task can be reopened."))
    target = reopen_target(task)
    if task.closed_at and now - task.closed_at > timedelta(days=settings.REOPEN_DAYS):
        raise IllegalTransition(
            task.status,
            target,
            _("The task was closed more than %(days)s days ago.") % {"days": settings.REOPEN_DAYS},
        )
    if (
        target in ACTIVE_STATUSES
        and TracingTask.objects.filter(person_id=task.person_id, status__in=ACTIVE_STATUSES).exists()
    ):
        raise IllegalTransition(
            task.status, target, _("The person has another open task: merge into it instead.")
        )
    old_outcome = task.outcome
    task.status = target
    task.outcome = ""
    task.closed_at = None
    fields = ["status", "outcome", "closed_at", *restart_kind_clocks(task, now)]
    if task.dispatched_at is None:
        dispatch = CLOCK_BY_NAME["dispatch"]
        task.dispatch_due = now + dispatch.window
        task.clock_alerts &= ~(dispatch.warning_bit | dispatch.breach_bit)
        fields.append("dispatch_due")
    _save(task, now, fields)
    _record(
        task,
        from_status=S.CLOSED,
        to_status=target,
        actor=actor,
        now=now,
        reason=reason,
        reopened_outcome=old_outcome,
    )
    return task


# --- verification outcome ------------------------------------------------------------------------


@transaction.atomic
def task_record_verification(
    *,
    task: TracingTask,
    actor: User,
    found: str,
    risk: bool,
    note: str = "",
    division_code: str = "",
    now: datetime | None = None,
) -> TracingTask:
    """The sub-unit's answer to a verification: stops its clock, then — risk: the task becomes an
    investigation (its clocks start now); moved elsewhere: transfer to `division_code` when given, else
    closed as moved away; otherwise closed (here: no risk, not found: lost contact, false hit)."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.fieldwork", task.division_id)
    if found not in FOUND_VALUES:
        raise ValidationError({"found": _("Choose here, not_found, moved_away or false_hit.")})
    if task.verified_at is not None and (task.verification_found, task.verification_risk) == (
        found,
        bool(risk),
    ):
        # The same answer again (a phone resending its outbox after a lost response): already done.
        return task
    if task.kind != TaskKind.VERIFICATION:
        raise IllegalTransition(task.status, task.status, _("This task is not a verification."))
    if task.status not in (S.DISPATCHED, S.RECEIVED):
        raise IllegalTransition(task.status, S.CLOSED, _("Only a dispatched verification can be answered."))
    task.verified_at = now
    task.verification_found = found
    task.verification_risk = bool(risk)
    _save(task, now, ["verified_at", "verification_found", "verification_risk"])
    _record(
        task,
        from_status=task.status,
        to_status=task.status,
        actor=actor,
        now=now,
        reason=note or _("Verification answered"),
        verification={"found": found, "risk": bool(risk)},
    )
    if risk and found != "false_hit":
        _set_kind(
            task,
            TaskKind.INVESTIGATION,
            actor=actor,
            now=now,
            reason=_("Risk found by the verification: full investigation"),
        )
        return task
    if found == "moved_away" and division_code:
        from .workflow import task_transfer

        task_transfer(
            task=task, actor=actor, division_code=division_code, reason=note or _("Moved elsewhere"), now=now
        )
        task.refresh_from_db()
        return task
    outcome = {
        "here": TaskOutcome.NO_RISK,
        "not_found": TaskOutcome.LOST_CONTACT,
        "moved_away": TaskOutcome.MOVED_AWAY,
        "false_hit": TaskOutcome.FALSE_HIT,
    }[found]
    return _close(task, actor=actor, outcome=outcome, note=note, now=now)


# --- merge ---------------------------------------------------------------------------------------

FIELD_RECORDS = (ContactAttempt, RadiusControl, TrajectoryEntry, CloseContact, TestResult, Registration)


def person_merge(*, keep: Person, merge: Person) -> None:
    """Two person records that are one person: the kept one fills its gaps from the other and takes
    its resident-ID key when it had none, so that later leads with that ID find it; the other is
    emptied (no identity, no blind index) so that no two persons share an index value. Caller moves
    the tasks and holds the transaction."""
    if keep.pk == merge.pk:
        return
    old_keys = [merge.person_key]
    take_id_key = merge.person_key.startswith("id:") and not keep.person_key.startswith("id:")
    if not keep.id_number_hash and merge.id_number_hash:
        # The type travels with the number (a passport is not a resident ID).
        keep.id_type, keep.id_number, keep.id_number_hash = (
            merge.id_type,
            merge.id_number,
            merge.id_number_hash,
        )
    if not keep.phone_hash and merge.phone_hash:
        keep.phone, keep.phone_hash = merge.phone, merge.phone_hash
    if not keep.name and merge.name:
        keep.name = merge.name
    if not keep.name_birth_hash and merge.name_birth_hash and keep.name == merge.name:
        keep.name_birth_hash = merge.name_birth_hash
    new_key = merge.person_key if take_id_key else keep.person_key
    if take_id_key:
        old_keys.append(keep.person_key)
    Person.objects.filter(pk=merge.pk).update(
        person_key=f"merged:{keep.pk}:{merge.pk}",
        id_number="",
        id_number_hash="",
        phone="",
        phone_hash="",
        name_birth_hash="",
    )
    keep.person_key = new_key
    keep.save(
        update_fields=[
            "person_key",
            "id_type",
            "id_number",
            "id_number_hash",
            "phone",
            "phone_hash",
            "name",
            "name_birth_hash",
        ]
    )
    TracingTask.objects.filter(person_id=merge.pk).update(person_id=keep.pk)
    # The leads of both keep pointing at one person (the intake matches on person_key).
    Lead.objects.filter(
        person_key__in=old_keys, pk__in=LeadLink.objects.filter(task__person_id=keep.pk).values("lead_id")
    ).update(person_key=new_key)


@transaction.atomic
def task_merge(
    *, keep: TracingTask, merge: TracingTask, actor: User, reason: str, now: datetime | None = None
) -> TracingTask:
    """Two tasks that are one person: the leads, field records and found contacts of `merge` move to
    `keep`; `merge` becomes `merged` pointing at `keep`; both histories say so. When the tasks had two
    person records, those merge too (person_merge)."""
    now = now or timezone.now()
    if keep.pk == merge.pk:
        raise ValidationError({"merge": _("A task cannot be merged into itself.")})
    first, second = sorted([keep.pk, merge.pk])
    locked = {
        t.pk: t for t in TracingTask.objects.select_for_update(of=("self",)).filter(pk__in=[first, second])
    }
    keep, merge = locked[keep.pk], locked[merge.pk]
    for task in (keep, merge):
        _require(actor, "task.merge", task.division_id)
    reason = _required_text(reason, "reason")
    if keep.status in ENDED_STATUSES or keep.status == S.TRANSFERRING:
        raise IllegalTransition(
            keep.status, keep.status, _("The task to keep has ended or is being transferred.")
        )
    check_transition(merge.status, S.MERGED)
    LeadLink.objects.filter(task_id=merge.pk).update(task_id=keep.pk)
    for model in FIELD_RECORDS:
        model.objects.filter(task_id=merge.pk).update(task_id=keep.pk)
    Lead.objects.filter(related_task_id=merge.pk).update(related_task_id=keep.pk)
    TracingTask.objects.filter(source_task_id=merge.pk).update(source_task_id=keep.pk)
    merge.merged_into = keep
    merge.closed_at = now
    _move(
        merge,
        S.MERGED,
        actor=actor,
        now=now,
        reason=reason,
        fields=["merged_into", "closed_at"],
        merged_into=keep.pk,
    )
    _ended([merge.pk], now)
    if merge.person_id != keep.person_id:
        person_merge(keep=keep.person, merge=merge.person)
    fields = []
    if merge.priority < keep.priority:
        keep.priority = merge.priority
        fields.append("priority")
    _save(keep, now, fields)
    _record(
        keep,
        from_status=keep.status,
        to_status=keep.status,
        actor=actor,
        now=now,
        reason=reason,
        merged_from=merge.pk,
    )
    if KIND_RANK[TaskKind(merge.kind)] > KIND_RANK[TaskKind(keep.kind)]:
        _set_kind(
            keep, merge.kind, actor=actor, now=now, reason=_("The merged task was of a more serious kind")
        )
    return keep


# --- bulk close ----------------------------------------------------------------------------------


@transaction.atomic
def tasks_close_bulk(
    *, task_ids: list[int], actor: User, outcome: str, note: str = "", now: datetime | None = None
) -> int:
    """Close many tasks in one statement (e.g. a batch of false hits): those of `task_ids` the actor
    sees, may close, whose state allows it and whose kind allows the outcome; the others are left as
    they are. Returns how many were closed."""
    now = now or timezone.now()
    if not can(actor, "task.close"):
        raise PermissionDenied(_("Your role may not do this."))
    if outcome not in TaskOutcome.values:
        raise ValidationError({"outcome": _("Unknown outcome.")})
    if outcome == TaskOutcome.OTHER and not (note or "").strip():
        raise ValidationError({"note": _("Say what the outcome was.")})
    kinds = [kind for kind, outcomes in KIND_OUTCOMES.items() if outcome in outcomes]
    prefix = scope_code(actor) or ""
    reason = note or str(TaskOutcome(outcome).label)
    # One statement: the candidates (one index scan of the primary key with the id array), their UPDATE
    # and their history rows. The history's details are one constant, and the rows are inserted in the
    # order the UPDATE returns them: sorting 100,000 rows by id spilled to disk (docs/benchmarks.md).
    sql = """
    WITH cand AS (
        SELECT t.id, t.status FROM tasks_tracingtask t
        WHERE t.id = ANY(%s) AND t.division_id LIKE %s AND t.status = ANY(%s) AND t.kind = ANY(%s)
    ),
    -- No FOR UPDATE pass of its own: the UPDATE locks each row and re-checks it against the status
    -- read here (a task another session moved meanwhile is left out, not closed from its new state).
    upd AS (
        UPDATE tasks_tracingtask t SET status = 'closed', outcome = %s, closed_at = %s,
            updated_at = %s, next_alert_at = NULL, version = t.version + 1
        FROM cand WHERE t.id = cand.id AND t.status = cand.status
        RETURNING t.id, cand.status AS from_status
    ),
    ins AS (
        INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
        SELECT id, from_status, 'closed', %s, %s, %s, %s::jsonb
        FROM upd
        RETURNING task_id
    )
    -- One array, not a row per task: half the client's time to read 100,000 ids.
    SELECT coalesce(array_agg(task_id), '{}') FROM ins
    """
    params: list[Any] = [
        list(task_ids),
        prefix + "%",
        [str(s) for s in CLOSABLE],
        [str(k) for k in kinds],
        outcome,
        now,
        now,
        actor.pk,
        now,
        reason,
        json.dumps({"outcome": outcome, "bulk": True}),
    ]
    with connection.cursor() as cursor:
        # The rollup trigger's transition tables hold every old and new row: in memory, not spilled to
        # temporary files as with the default work_mem.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(sql, params)
        closed: list[int] = cursor.fetchone()[0]
    _ended(closed, now)
    return len(closed)


def can_act(user: User, capability: str, task: TracingTask) -> bool:
    """Whether the task page offers this action to the user."""
    return can(user, capability) and in_scope(user, task.division_id)
