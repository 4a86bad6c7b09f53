"""The task state machine and the services that move tasks through it (issue 4).

Every service is `@transaction.atomic`, keyword-only, locks the task row (SELECT … FOR UPDATE), checks
the transition table, writes one TaskTransition (who, when, from, to, why), and updates the clocks and
`next_alert_at` in the same call (healthchecks sets `alert_after` inside `Check.ping()`).

Authorisation: services check the actor's role (`roles.can`) and territory (`selectors.in_scope`) and
raise PermissionDenied; views fetch the task through `selectors.get_visible_or_404` first, so a task
outside the actor's territory is a 404 before any service runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .clocks import compute_next_alert_at, filter_overdue  # noqa: F401  (filter_overdue: API contract)
from .dispatch import OPEN_LOAD_STATUSES, SLOTS_SQL, assign_mode, dispatch_where, slot_params
from .models import Division, Notification, TaskStatus, TaskTransition, TracingTask, Transfer, Unit, User
from .models.accounts import Role
from .roles import can
from .selectors import in_scope

S = TaskStatus

# The only legal moves. `transferring` returns to the status it came from when a transfer is rejected
# (Transfer.from_status), so it may go back to any state a transfer may start from.
TRANSFERABLE = frozenset({S.NEW, S.DISPATCHED, S.RECEIVED, S.RADIUS_LIMITED, S.TRACED, S.RETURNED})
# A task ends by `close` (with an outcome) from any state with field work or after approval
# (tasks/worktypes.py); a closed task may be reopened, within REOPEN_DAYS, to the state it was closed from.
CLOSABLE = frozenset(
    {S.NEW, S.DISPATCHED, S.RECEIVED, S.RADIUS_LIMITED, S.TRACED, S.RETURNED, S.APPROVED, S.REPORTED}
)
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.DISPATCHED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.DISPATCHED: frozenset({S.RECEIVED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.RECEIVED: frozenset({S.RADIUS_LIMITED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.RADIUS_LIMITED: frozenset({S.TRACED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.TRACED: frozenset({S.SUBMITTED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.RETURNED, S.APPROVED, S.CANCELLED}),
    # returned → (field work again, in this state) → submitted.
    S.RETURNED: frozenset({S.SUBMITTED, S.TRANSFERRING, S.MERGED, S.CANCELLED, S.CLOSED}),
    S.APPROVED: frozenset({S.REPORTED, S.CLOSED}),
    S.REPORTED: frozenset({S.CLOSED}),
    # Reopening is not a move of this table: it returns to the state recorded by the close (worktypes.py).
    S.CLOSED: frozenset(),
    S.TRANSFERRING: frozenset(TRANSFERABLE | {S.CANCELLED}),
    S.MERGED: frozenset(),
    S.CANCELLED: frozenset(),
}
assert set(TRANSITIONS) == set(S.values)
# Assignment (who does the field work) can change while there is field work to do.
ASSIGNABLE = frozenset({S.DISPATCHED, S.RECEIVED, S.RADIUS_LIMITED, S.TRACED, S.RETURNED})
ASSIGNEE_ROLES = frozenset({Role.FIELD_STAFF, Role.TEAM_LEADER})


class IllegalTransition(ValidationError):
    """A move the state machine does not allow. The API answers 409 with `from_status`/`to_status`."""

    def __init__(self, from_status: str, to_status: str, detail: str | None = None):
        self.from_status = str(from_status)
        self.to_status = str(to_status)
        message = detail or _("A task cannot go from “%(from)s” to “%(to)s”.") % {
            "from": S(self.from_status).label,
            "to": S(self.to_status).label,
        }
        super().__init__(message, code="illegal_transition")


class BulkRefused(ValidationError):
    """A bulk operation refused as a whole; `problems` maps a reason to the task ids it applies to."""

    def __init__(self, message: str, problems: dict[str, list[int]]):
        self.problems = problems
        super().__init__(message, code="bulk_refused")


BULK_PROBLEM_LABELS = {
    "not_found": gettext_lazy("not found in your territory"),
    "not_assignable": gettext_lazy("not in a state that can be re-assigned"),
    "outside_assignee_territory": gettext_lazy("outside the assignee's territory"),
    "other_township": gettext_lazy("in another township"),
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(from_status: str, to_status: str) -> None:
    if not can_transition(from_status, to_status):
        raise IllegalTransition(from_status, to_status)


# --- internals -----------------------------------------------------------------------------------


def _lock(task: TracingTask) -> TracingTask:
    """Re-read the task under a row lock: every decision below is taken on the current row."""
    return TracingTask.objects.select_for_update(of=("self",)).get(pk=task.pk)


def _require(actor: User, capability: str, code: str | None) -> None:
    if not can(actor, capability):
        raise PermissionDenied(_("Your role may not do this."))
    if code is not None and not in_scope(actor, code):
        raise PermissionDenied(_("This is outside your territory."))


def _record(
    task: TracingTask,
    *,
    from_status: str,
    to_status: str,
    actor: User | None,
    now,
    reason: str = "",
    **details,
) -> TaskTransition:
    return TaskTransition.objects.create(
        task=task,
        from_status=str(from_status),
        to_status=str(to_status),
        actor=actor if getattr(actor, "pk", None) else None,
        at=now,
        reason=reason,
        details=details,
    )


def _save(task: TracingTask, now, fields: Iterable[str]) -> None:
    task.updated_at = now
    task.next_alert_at = compute_next_alert_at(task)
    task.version = F("version") + 1
    task.save(update_fields=[*set(fields), "updated_at", "next_alert_at", "version"])
    task.refresh_from_db(fields=["version"])


def _move(
    task: TracingTask,
    to_status: str,
    *,
    actor: User | None,
    now,
    reason: str = "",
    fields=(),
    decides_transfer: bool = False,
    **details,
) -> TracingTask:
    """Change the status of a locked task (checked against the table), save, record. A transferring task
    is read-only: only the receiving desk's decision (or a cancellation) moves it."""
    from_status = task.status
    check_transition(from_status, to_status)
    if from_status == S.TRANSFERRING and not decides_transfer and to_status != S.CANCELLED:
        raise IllegalTransition(
            from_status, to_status, _("The task is being transferred: wait for the receiving desk.")
        )
    task.status = to_status
    _save(task, now, ["status", *fields])
    _record(
        task, from_status=from_status, to_status=to_status, actor=actor, now=now, reason=reason, **details
    )
    return task


def _notify(
    recipients: Iterable[int], *, kind: str, task=None, transfer=None, now: datetime | None = None, **data
) -> int:
    return _notify_all(
        [
            Notification(
                recipient_id=uid,
                kind=kind,
                task=task,
                transfer=transfer,
                data=data,
                created_at=now or timezone.now(),
            )
            for uid in {u for u in recipients if u}
        ]
    )


def notify_field_team(task: TracingTask, *, kind: str, now: datetime | None = None, **data) -> int:
    """Tell the people who hold `task` on the ground: its assignee, else the leader and members of its
    sub-unit (a task waiting for the leader to assign it). Used by the upper apps (a returned review)."""
    if task.assignee_id:
        recipients = [task.assignee_id]
    elif task.subunit_id:
        unit = Unit.objects.filter(pk=task.subunit_id).values_list("leader_id", flat=True).first()
        recipients = [
            *([unit] if unit else []),
            *User.objects.filter(units__pk=task.subunit_id, is_active=True).values_list("pk", flat=True),
        ]
    else:
        recipients = []
    return _notify(recipients, kind=kind, task=task, now=now, **data)


def _notify_all(rows: list[Notification]) -> int:
    """Write notifications and their SMS / e-mail delivery rows (the outbox's "notifications" flow):
    one INSERT for the notifications, one statement for all their deliveries, however many there are.
    Every notification goes through here, so a bulk action notifies exactly like a single one."""
    Notification.objects.bulk_create(rows)
    from .notify import create_deliveries_for

    create_deliveries_for([n.pk for n in rows])
    return len(rows)


def desk_code(code: str) -> str:
    """The code of the duty desk that answers for a division: its county, or its city above county."""
    return code[:6] if len(code) >= 6 else code


def desk_officer_ids(code: str, now) -> list[int]:
    """The duty desk for `code`: the officers on shift now, else every active duty officer scoped
    exactly to the desk's division (county or city)."""
    desk = desk_code(code)
    on_shift = list(
        User.objects.filter(
            is_active=True,
            shifts__unit__kind=Unit.Kind.DUTY_DESK,
            shifts__unit__division_id=desk,
            shifts__starts_at__lte=now,
            shifts__ends_at__gt=now,
        ).values_list("pk", flat=True)
    )
    if on_shift:
        return on_shift
    return list(
        User.objects.filter(is_active=True, role=Role.DUTY_OFFICER, division_id=desk).values_list(
            "pk", flat=True
        )
    )


def _village(code: str, *, actor: User, field: str = "division_code") -> Division:
    try:
        division = Division.objects.get(code=code)
    except Division.DoesNotExist:
        raise ValidationError({field: _("No division has code %(code)s.") % {"code": code}}) from None
    if division.level != "village":
        raise ValidationError({field: _("Choose a village (a 12-digit code).")})
    if actor is not None and not in_scope(actor, division.code):
        raise ValidationError({field: _("This village is outside your territory.")})
    return division


# --- dispatch, resolve, assign, receive ----------------------------------------------------------


@transaction.atomic
def task_dispatch(
    *, task: TracingTask, actor: User | None = None, now: datetime | None = None, reason: str = ""
) -> TracingTask:
    """Dispatch one new task to the team and sub-unit of its village (same rules and SQL as the
    automatic dispatch). Refused when the task is not new or its division is not a village with a unit."""
    now = now or timezone.now()
    task = _lock(task)
    check_transition(task.status, S.DISPATCHED)
    if task.status != S.NEW:
        raise IllegalTransition(task.status, S.DISPATCHED)
    if task.is_unresolved:
        raise ValidationError(_("The task's village is unknown: resolve it first."), code="unresolved")
    done = dispatch_where(
        "t.id = %(task_id)s",
        {"task_id": task.pk},
        now=now,
        from_statuses=[S.NEW],
        actor_id=getattr(actor, "pk", None),
        reason=reason or _("Dispatched"),
    )
    if not done:
        raise ValidationError(_("The village has no investigation team or sub-unit."), code="no_unit")
    task.refresh_from_db()
    return task


@transaction.atomic
def task_resolve_division(
    *, task: TracingTask, actor: User, division_code: str, now: datetime | None = None
) -> TracingTask:
    """The duty officer picks the village of an unresolved task; it dispatches at once."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.resolve", task.division_id)
    if task.status != S.NEW:
        raise IllegalTransition(
            task.status, S.DISPATCHED, _("Only a new task waiting in the queue can be resolved.")
        )
    village = _village(division_code, actor=actor)
    previous = task.division_id
    task.division = village
    task.unresolved_reason = ""
    task.save(update_fields=["division", "unresolved_reason"])
    _record(
        task,
        from_status=S.NEW,
        to_status=S.NEW,
        actor=actor,
        now=now,
        reason=_("Village resolved by the duty desk"),
        division={"from": previous, "to": village.code},
    )
    return task_dispatch(
        task=task, actor=actor, now=now, reason=_("Dispatched after the village was resolved")
    )


def _least_loaded_member(subunit: Unit) -> int | None:
    if assign_mode() == "leader":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.user_id FROM tasks_unitmembership m JOIN tasks_user u ON u.id = m.user_id AND u.is_active
            WHERE m.unit_id = %s
            ORDER BY (SELECT count(*) FROM tasks_tracingtask x WHERE x.assignee_id = m.user_id AND x.status = ANY(%s)), m.user_id
            LIMIT 1
            """,
            [subunit.pk, [str(s) for s in OPEN_LOAD_STATUSES]],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _check_assignee(assignee: User, division_code: str) -> None:
    if not assignee.is_active or assignee.role not in ASSIGNEE_ROLES:
        raise ValidationError({"assignee": _("Tasks go to field staff or team leaders.")})
    if not in_scope(assignee, division_code):
        raise ValidationError({"assignee": _("This person works outside the task's village.")})


def _subunit_for(task: TracingTask, subunit: Unit, actor: User) -> Unit:
    if subunit.kind != Unit.Kind.SUBUNIT:
        raise ValidationError({"subunit": _("Choose a village sub-unit.")})
    if subunit.division_id[:9] != task.division_id[:9]:
        raise ValidationError({"subunit": _("A sub-unit of another township: transfer the task instead.")})
    if not in_scope(actor, subunit.division_id):
        raise ValidationError({"subunit": _("This sub-unit is outside your territory.")})
    return subunit


@transaction.atomic
def task_assign(
    *,
    task: TracingTask,
    actor: User,
    assignee: User | None = None,
    subunit: Unit | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> TracingTask:
    """Manual re-assignment: to a person, or to a sub-unit of the same township (its least-loaded
    member, or its leader's choice). The status does not change; the history row records who had it."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.assign", task.division_id)
    if task.status not in ASSIGNABLE:
        raise IllegalTransition(
            task.status,
            task.status,
            _("A task in state “%(status)s” cannot be re-assigned.") % {"status": S(task.status).label},
        )
    if (assignee is None) == (subunit is None):
        raise ValidationError(_("Give either an assignee or a sub-unit."))
    before = {"division": task.division_id, "subunit": task.subunit_id, "assignee": task.assignee_id}
    if subunit is not None:
        subunit = _subunit_for(task, subunit, actor)
        task.subunit = subunit
        task.division_id = subunit.division_id
        task.assignee_id = _least_loaded_member(subunit)
    elif assignee is not None:
        _check_assignee(assignee, task.division_id)
        task.assignee = assignee
    after = {"division": task.division_id, "subunit": task.subunit_id, "assignee": task.assignee_id}
    _save(task, now, ["division", "subunit", "assignee"])
    _record(
        task,
        from_status=task.status,
        to_status=task.status,
        actor=actor,
        now=now,
        reason=reason or _("Re-assigned"),
        assignment={"from": before, "to": after},
    )
    if task.assignee_id and task.assignee_id != before["assignee"]:
        _notify([task.assignee_id], kind=Notification.Kind.ASSIGNED, task=task, now=now)
    return task


@transaction.atomic
def task_assign_bulk(
    *,
    task_ids: list[int],
    actor: User,
    assignee: User | None = None,
    subunit: Unit | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> int:
    """Re-assign many selected tasks at once, in sets. All or nothing: if any task is outside the
    actor's territory, not assignable, or outside the assignee's village, nothing changes and the error
    names the tasks. To a sub-unit: its members share the tasks by current open load."""
    now = now or timezone.now()
    _require(actor, "task.assign", None)
    if (assignee is None) == (subunit is None):
        raise ValidationError(_("Give either an assignee or a sub-unit."))
    ids = sorted({int(i) for i in task_ids})
    if not ids:
        raise ValidationError({"task_ids": _("Select at least one task.")})
    from .selectors import tasks_visible_to

    rows = list(
        tasks_visible_to(actor)
        .filter(pk__in=ids)
        .select_for_update(of=("self",))
        .values_list("pk", "status", "division_id")
    )
    found = {pk for pk, _status, _code in rows}
    problems: dict[str, list[int]] = {}
    if missing := [i for i in ids if i not in found]:
        problems["not_found"] = missing
    if wrong := [pk for pk, status, _code in rows if status not in ASSIGNABLE]:
        problems["not_assignable"] = wrong
    if assignee is not None:
        if not assignee.is_active or assignee.role not in ASSIGNEE_ROLES:
            raise ValidationError({"assignee": _("Tasks go to field staff or team leaders.")})
        if outside := [
            pk for pk, _s, code in rows if not in_scope(assignee, code) or not in_scope(actor, code)
        ]:
            problems["outside_assignee_territory"] = outside
    elif subunit is not None:
        if subunit.kind != Unit.Kind.SUBUNIT or not in_scope(actor, subunit.division_id):
            raise ValidationError({"subunit": _("Choose a village sub-unit in your territory.")})
        if other := [pk for pk, _s, code in rows if code[:9] != subunit.division_id[:9]]:
            problems["other_township"] = other
    if problems:
        # The keys stay in `problems` for the API; the message names them in words, tasks as T<id>.
        detail = "; ".join(
            f"{BULK_PROBLEM_LABELS.get(key, key)}: {', '.join(f'T{pk}' for pk in value)}"
            for key, value in problems.items()
        )
        raise BulkRefused(
            _("Nothing was re-assigned. Tasks that cannot be: %(detail)s") % {"detail": detail}, problems
        )
    if assignee is not None:
        target_sql = "SELECT t.id, NULL::bigint AS subunit_id, NULL::varchar AS division_id, %(assignee)s::bigint AS user_id FROM tasks_tracingtask t WHERE t.id = ANY(%(ids)s)"
    else:
        target_sql = f"""
        WITH cand AS (
            SELECT t.id, %(subunit)s::bigint AS subunit_id, row_number() OVER (ORDER BY t.priority, t.id) AS k,
                   count(*) OVER () AS n
            FROM tasks_tracingtask t WHERE t.id = ANY(%(ids)s)
        ),
        {SLOTS_SQL}
        SELECT cand.id, cand.subunit_id, %(subunit_division)s::varchar AS division_id, slots.user_id
        FROM cand LEFT JOIN slots ON slots.unit_id = cand.subunit_id AND slots.k = cand.k
        """
    sql = f"""
    WITH target AS ({target_sql}),
    upd AS (
        UPDATE tasks_tracingtask t
        SET assignee_id = target.user_id,
            subunit_id = COALESCE(target.subunit_id, t.subunit_id),
            division_id = COALESCE(target.division_id, t.division_id),
            updated_at = %(now)s, version = t.version + 1
        FROM tasks_tracingtask old, target
        WHERE t.id = target.id AND old.id = t.id
        RETURNING t.id, t.status, old.assignee_id AS old_assignee, old.subunit_id AS old_subunit,
                  old.division_id AS old_division, t.assignee_id, t.subunit_id, t.division_id
    ),
    hist AS (
        INSERT INTO tasks_tasktransition (task_id, from_status, to_status, actor_id, at, reason, details)
        SELECT id, status, status, %(actor)s, %(now)s, %(reason)s,
               jsonb_build_object('bulk', true, 'assignment', jsonb_build_object(
                   'from', jsonb_build_object('division', old_division, 'subunit', old_subunit, 'assignee', old_assignee),
                   'to', jsonb_build_object('division', division_id, 'subunit', subunit_id, 'assignee', assignee_id)))
        FROM upd
    )
    SELECT id, assignee_id, old_assignee FROM upd
    """
    params = {
        "ids": ids,
        "now": now,
        "actor": actor.pk,
        "reason": reason or _("Re-assigned (bulk)"),
        "assignee": getattr(assignee, "pk", None),
        "subunit": getattr(subunit, "pk", None),
        "subunit_division": getattr(subunit, "division_id", None),
        **slot_params(),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = cursor.fetchall()
    notified = [(task_id, uid) for task_id, uid, old in changed if uid and uid != old]
    _notify_all(
        [
            Notification(recipient_id=uid, kind=Notification.Kind.ASSIGNED, task_id=task_id, created_at=now)
            for task_id, uid in notified
        ]
    )
    return len(changed)


@transaction.atomic
def task_receive(*, task: TracingTask, actor: User, now: datetime | None = None) -> TracingTask:
    """The sub-unit confirms receipt (回单) of a dispatched task."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.receive", task.division_id)
    task.received_at = now
    return _move(
        task, S.RECEIVED, actor=actor, now=now, reason=_("Receipt confirmed"), fields=["received_at"]
    )


# --- field-work milestones (called by the field-work issue) --------------------------------------


@transaction.atomic
def task_mark_radius_limited(
    *,
    task: TracingTask,
    actor: User,
    at: datetime | None = None,
    now: datetime | None = None,
    reason: str = "",
) -> TracingTask:
    """The person is reached and their activity radius limited: the radius clock stops (at the first
    time it was met: a task transferred after this keeps the stopped clock)."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.fieldwork", task.division_id)
    task.radius_limited_at = task.radius_limited_at or at or now
    return _move(
        task,
        S.RADIUS_LIMITED,
        actor=actor,
        now=now,
        reason=reason or _("Activity radius limited"),
        fields=["radius_limited_at"],
    )


@transaction.atomic
def task_mark_traced(
    *,
    task: TracingTask,
    actor: User,
    at: datetime | None = None,
    now: datetime | None = None,
    reason: str = "",
) -> TracingTask:
    """The trajectory is traced: the trace clock stops."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.fieldwork", task.division_id)
    task.traced_at = task.traced_at or at or now
    return _move(
        task, S.TRACED, actor=actor, now=now, reason=reason or _("Trajectory traced"), fields=["traced_at"]
    )


@transaction.atomic
def task_submit(
    *, task: TracingTask, actor: User, now: datetime | None = None, reason: str = ""
) -> TracingTask:
    """Submit for expert review (from traced, or again after a return)."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.fieldwork", task.division_id)
    task.submitted_at = now
    fields = ["submitted_at"]
    if task.status == S.RETURNED:
        task.rework_done_at = now  # stops the rework clock the expert's return started
        fields.append("rework_done_at")
    return _move(
        task, S.SUBMITTED, actor=actor, now=now, reason=reason or _("Submitted for review"), fields=fields
    )


@transaction.atomic
def task_change_status(
    *,
    task: TracingTask,
    to_status: str,
    actor: User | None = None,
    reason: str = "",
    now: datetime | None = None,
    **changes,
) -> TracingTask:
    """Generic checked move for the later issues (review: submitted → returned/approved, reports:
    approved → reported → closed, intake: → merged). Authorisation is the caller's; `changes` are
    field values set in the same save (e.g. approved_at=now)."""
    now = now or timezone.now()
    task = _lock(task)
    for field, value in changes.items():
        setattr(task, field, value)
    if task.status == S.TRANSFERRING and to_status == S.CANCELLED:
        # A cancelled task is no longer offered to the receiving desk.
        Transfer.objects.filter(task=task, status=Transfer.Status.PENDING).update(
            status=Transfer.Status.REJECTED,
            decided_by=actor if getattr(actor, "pk", None) else None,
            decided_at=now,
            decision_reason=reason or _("The task was cancelled"),
        )
    return _move(task, to_status, actor=actor, now=now, reason=reason, fields=list(changes))


# --- transfer (转办) ------------------------------------------------------------------------------


def pending_transfer(task: TracingTask) -> Transfer | None:
    return (
        Transfer.objects.filter(task=task, status=Transfer.Status.PENDING)
        .select_related("to_division")
        .first()
    )


@transaction.atomic
def task_transfer(
    *, task: TracingTask, actor: User, division_code: str, reason: str, now: datetime | None = None
) -> Transfer:
    """Ask the duty desk of another jurisdiction (village, township, county or city) to take the task.
    The task becomes `transferring` and keeps its division (the sender keeps seeing it, read-only)
    until the receiver accepts; the clocks keep running."""
    now = now or timezone.now()
    task = _lock(task)
    _require(actor, "task.transfer", task.division_id)
    check_transition(task.status, S.TRANSFERRING)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the task is transferred.")})
    try:
        target = Division.objects.get(code=(division_code or "").strip())
    except Division.DoesNotExist:
        raise ValidationError(
            {"division_code": _("No division has code %(code)s.") % {"code": division_code}}
        ) from None
    if target.level == "province":
        raise ValidationError({"division_code": _("Transfer to a city, county, township or village.")})
    if target.code == task.division_id:
        raise ValidationError({"division_code": _("The task is already there.")})
    transfer = Transfer.objects.create(
        task=task,
        from_division_id=task.division_id,
        to_division=target,
        from_status=task.status,
        reason=reason,
        requested_by=actor,
        requested_at=now,
    )
    _move(
        task,
        S.TRANSFERRING,
        actor=actor,
        now=now,
        reason=reason,
        transfer=transfer.pk,
        division={"from": task.division_id, "to": target.code},
    )
    _notify(
        desk_officer_ids(target.code, now),
        kind=Notification.Kind.TRANSFER_REQUESTED,
        task=task,
        transfer=transfer,
        now=now,
        to=target.code,
        to_name=target.name,
    )
    return transfer


def _pending_for_decider(task: TracingTask, actor: User) -> Transfer:
    transfer = pending_transfer(task)
    if transfer is None or task.status != S.TRANSFERRING:
        raise IllegalTransition(task.status, S.DISPATCHED, _("The task has no pending transfer."))
    _require(actor, "task.transfer_decide", None)
    if not in_scope(actor, transfer.to_division_id):
        raise PermissionDenied(_("Only the receiving duty desk decides on a transfer."))
    return transfer


@transaction.atomic
def task_transfer_accept(*, task: TracingTask, actor: User, now: datetime | None = None) -> TracingTask:
    """The receiving desk takes the task: its division becomes the target; a village target dispatches
    at once to that village's team and sub-unit, a coarser target puts the task in the receiving desk's
    queue (status new) to resolve its village. Clocks keep running (no clock restarts)."""
    now = now or timezone.now()
    task = _lock(task)
    transfer = _pending_for_decider(task, actor)
    transfer.status = Transfer.Status.ACCEPTED
    transfer.decided_by, transfer.decided_at = actor, now
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    target = transfer.to_division
    task.division = target
    task.team = task.subunit = task.assignee = None
    task.save(update_fields=["division", "team", "subunit", "assignee"])
    reason = _("Transfer accepted")
    if target.level == "village":
        done = dispatch_where(
            "t.id = %(task_id)s",
            {"task_id": task.pk},
            now=now,
            from_statuses=[S.TRANSFERRING],
            actor_id=actor.pk,
            reason=reason,
            notify_assignees=False,
        )
        task.refresh_from_db()
    else:
        done = []
    if not done:
        task.unresolved_reason = _("Transferred here: choose the village")
        _move(
            task,
            S.NEW,
            actor=actor,
            now=now,
            reason=reason,
            fields=["unresolved_reason"],
            decides_transfer=True,
            transfer=transfer.pk,
        )
    if done:
        notify_field_team(
            task, kind=Notification.Kind.TRANSFERRED, now=now, to=target.code, to_name=target.name
        )
    _notify(
        [transfer.requested_by_id],
        kind=Notification.Kind.TRANSFER_ACCEPTED,
        task=task,
        transfer=transfer,
        now=now,
        to=target.code,
        to_name=target.name,
    )
    return task


@transaction.atomic
def task_transfer_reject(
    *, task: TracingTask, actor: User, reason: str, now: datetime | None = None
) -> TracingTask:
    """The receiving desk refuses, with a reason: the task returns to the status it had."""
    now = now or timezone.now()
    task = _lock(task)
    transfer = _pending_for_decider(task, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the transfer is rejected.")})
    transfer.status = Transfer.Status.REJECTED
    transfer.decided_by, transfer.decided_at, transfer.decision_reason = actor, now, reason
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _move(
        task,
        transfer.from_status,
        actor=actor,
        now=now,
        reason=reason,
        decides_transfer=True,
        transfer=transfer.pk,
        rejected=True,
    )
    _notify(
        [transfer.requested_by_id],
        kind=Notification.Kind.TRANSFER_REJECTED,
        task=task,
        transfer=transfer,
        now=now,
        reason=reason,
    )
    return task
