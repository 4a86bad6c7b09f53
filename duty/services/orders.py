"""Supervision orders (督办): issuing, the owner's answers, the issuer's decision, the deadline sweep,
the lists and the statistics (docs/duty.md#supervision-orders).

Who may do what:

* issue: a commander or a duty officer (or the deployment's superuser);
* acknowledge, reply, complete: the owner person, or the leader or a member of the owner unit;
* accept, send back: the issuer, or a duty officer of the desk the order was issued from.

An order is visible in the issuer's and in the owner's territory; outside both it does not exist
(the views answer 404). Every change takes the order's row lock, so two clicks cannot both move it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tasks.models import Division, Notification, Role, TracingTask, Unit, UnitMembership
from tasks.notify import create_deliveries_for, delivery_inserts
from tasks.selectors import (
    accounts_visible_to,
    divisions_visible_to,
    scope_code,
    tasks_visible_to,
    units_visible_to,
)

from ..models import OPEN_STATES, OrderPriority, OrderState, SupervisionOrder, SupervisionOrderEvent
from ..models.orders import OVERDUE_BIT, WARNING_BIT

# The in-app notification kind of everything about supervision orders (rendered by render_notification).
NOTIFICATION_KIND = "supervision"
# The warning before the deadline; an order issued with less time than this left gets none.
WARNING_BEFORE = timedelta(hours=1)
MAX_ATTACHED = 200

ISSUER_ROLES = frozenset({Role.COMMANDER, Role.DUTY_OFFICER})


class OrderConflict(Exception):
    """A move the order's state does not allow; the API answers 409 with the message and the state."""

    def __init__(self, message: str, state: str):
        super().__init__(message)
        self.message = message
        self.state = state


# ---- who may do what ---------------------------------------------------------------------------------


def can_issue(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.role in ISSUER_ROLES)


def is_owner(user, order: SupervisionOrder) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if order.owner_user_id == user.pk:
        return True
    unit = order.owner_unit
    if unit is None:
        return False
    if unit.leader_id == user.pk:
        return True
    return UnitMembership.objects.filter(unit_id=unit.pk, user=user).exists()


def can_decide(user, order: SupervisionOrder) -> bool:
    """Accept or send back: the issuer, or a duty officer of the same desk."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or order.issuer_id == user.pk:
        return True
    return user.role == Role.DUTY_OFFICER and user.division_id == order.issuer_division_id


def actions_for(user, order: SupervisionOrder) -> set[str]:
    """The actions `user` may take on `order` now (the buttons of the order page)."""
    actions: set[str] = set()
    if is_owner(user, order):
        if order.state == OrderState.ISSUED:
            actions.add("acknowledge")
        if order.state in OPEN_STATES:
            actions.add("reply")
        if order.state in (OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS):
            actions.add("complete")
    if order.state == OrderState.COMPLETED and can_decide(user, order):
        actions |= {"accept", "send_back"}
    return actions


# ---- reading -----------------------------------------------------------------------------------------


def orders_visible_to(user) -> QuerySet[SupervisionOrder]:
    """The orders of the issuer's and of the owner's territory (see the module docstring)."""
    queryset = SupervisionOrder.objects.all()
    prefix = scope_code(user)
    if prefix is None:
        return queryset.none()
    if prefix == "":
        return queryset
    return queryset.filter(
        Q(issuer_division__code__startswith=prefix) | Q(owner_division__code__startswith=prefix)
    )


def owned_by(user) -> Q:
    """Orders owned by `user` in person or by a unit they lead or belong to."""
    member = UnitMembership.objects.filter(unit_id=OuterRef("owner_unit_id"), user_id=user.pk)
    return Q(owner_user_id=user.pk) | Q(owner_unit__leader_id=user.pk) | Q(Exists(member))


SCOPES = {
    "issued": gettext_lazy("Issued by me"),
    "assigned": gettext_lazy("Assigned to me or my unit"),
    "all": gettext_lazy("All in my territory"),
}


def scopes_for(user) -> list[str]:
    scopes = ["issued"] if can_issue(user) else []
    scopes.append("assigned")
    if user.is_superuser or user.role in (Role.COMMANDER, Role.DUTY_OFFICER, Role.AUDITOR, Role.ADMIN):
        scopes.append("all")
    return scopes


def default_scope(user) -> str:
    if user.is_superuser or user.role == Role.COMMANDER:
        return "all"
    if can_issue(user):
        return "issued"
    return "assigned"


@dataclass
class ListFilters:
    scope: str = ""
    state: str = ""  # "" = all; "open" = not yet completed; or one state
    priority: str = ""
    overdue: bool = False


def filter_orders(user, filters: ListFilters, *, now: datetime | None = None) -> QuerySet[SupervisionOrder]:
    """The list of one role's tab, filtered; raises ValidationError naming a bad parameter."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    scope = filters.scope or default_scope(user)
    if scope not in scopes_for(user):
        errors["scope"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(scopes_for(user))}]
    if filters.state and filters.state != "open" and filters.state not in OrderState.values:
        errors["state"] = [_("Unknown state %(value)s.") % {"value": filters.state}]
    if filters.priority and filters.priority not in OrderPriority.values:
        errors["priority"] = [_("Unknown priority %(value)s.") % {"value": filters.priority}]
    if errors:
        raise ValidationError(errors)
    queryset = orders_visible_to(user)
    if scope == "issued":
        queryset = queryset.filter(issuer_id=user.pk)
    elif scope == "assigned":
        queryset = queryset.filter(owned_by(user))
    if filters.state == "open":
        queryset = queryset.filter(state__in=OPEN_STATES)
    elif filters.state:
        queryset = queryset.filter(state=filters.state)
    if filters.priority:
        queryset = queryset.filter(priority=filters.priority)
    if filters.overdue:
        queryset = queryset.filter(
            Q(completed_at__isnull=True, deadline__lte=now) | Q(completed_at__gt=F("deadline"))
        )
    return queryset.select_related("owner_unit", "owner_user", "issuer")


def owner_name(order: SupervisionOrder) -> str:
    if order.owner_user is not None:
        return order.owner_user.display_name
    return order.owner_unit.name if order.owner_unit is not None else ""


@dataclass
class UnitStats:
    division_code: str
    name: str
    total: int
    open: int
    on_time: int
    late: int
    overdue_open: int

    @property
    def overdue(self) -> int:
        return self.late + self.overdue_open


def stats_by_owner(queryset: QuerySet[SupervisionOrder], *, now: datetime | None = None) -> list[UnitStats]:
    """On time, overdue and open per owner unit (an order owned by a person counts for the unit of the
    person's division: one unit per division, the desk, team or sub-unit of its level); one query."""
    now = now or timezone.now()
    rows = (
        queryset.order_by()
        .values("owner_division_id")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(completed_at__isnull=True)),
            on_time=Count("id", filter=Q(completed_at__lte=F("deadline"))),
            late=Count("id", filter=Q(completed_at__gt=F("deadline"))),
            overdue_open=Count("id", filter=Q(completed_at__isnull=True, deadline__lte=now)),
        )
    )
    codes = [row["owner_division_id"] for row in rows]
    names = dict(Division.objects.filter(code__in=codes).values_list("code", "name"))
    names.update(Unit.objects.filter(division_id__in=codes).values_list("division_id", "name"))
    return sorted(
        (
            UnitStats(
                division_code=row["owner_division_id"],
                name=names.get(row["owner_division_id"], row["owner_division_id"]),
                total=row["total"],
                open=row["open"],
                on_time=row["on_time"],
                late=row["late"],
                overdue_open=row["overdue_open"],
            )
            for row in rows
        ),
        key=lambda s: s.division_code,
    )


# ---- issuing -----------------------------------------------------------------------------------------

_TASK_NUMBER = re.compile(r"^[Tt]?(\d{1,18})$")


def _task_ids(values, errors: dict) -> list[int]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,，;；]+", values) if v]
    ids = []
    for value in values or []:
        match = _TASK_NUMBER.match(str(value).strip())
        if not match:
            errors.setdefault("tasks", []).append(
                _("%(value)s is not a task number (T123 or 123).") % {"value": value}
            )
            continue
        ids.append(int(match.group(1)))
    return list(dict.fromkeys(ids))


def _division_codes(values, errors: dict) -> list[str]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,，;；]+", values) if v]
    codes = []
    for value in values or []:
        code = str(value).strip()
        if not code.isdigit() or not 2 <= len(code) <= 12:
            errors.setdefault("divisions", []).append(
                _("%(value)s is not a division code.") % {"value": value}
            )
            continue
        codes.append(code)
    return list(dict.fromkeys(codes))


def _int_or_none(value, field: str, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.setdefault(field, []).append(_("Give the id (a number)."))
        return None


def issue_order(
    *,
    actor,
    title: str,
    text: str = "",
    deadline: datetime | None,
    priority: str = OrderPriority.NORMAL,
    owner_unit=None,
    owner_user=None,
    tasks=(),
    divisions=(),
    now: datetime | None = None,
) -> SupervisionOrder:
    """Issue an order; notifies the owner. Raises PermissionDenied (not an issuing role) or
    ValidationError naming each bad field."""
    now = now or timezone.now()
    if not can_issue(actor):
        raise PermissionDenied(_("Only a commander or a duty officer may issue supervision orders."))
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the order a title.")]
    elif len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    text = (text or "").strip()
    if len(text) > 5000:
        errors["text"] = [_("At most 5,000 characters.")]
    if deadline is None:
        errors["deadline"] = [_("Give a deadline.")]
    elif deadline <= now:
        errors["deadline"] = [_("The deadline must be in the future.")]
    if priority not in OrderPriority.values:
        errors["priority"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(OrderPriority.values)}]
    unit_id = _int_or_none(getattr(owner_unit, "pk", owner_unit), "owner_unit", errors)
    user_id = _int_or_none(getattr(owner_user, "pk", owner_user), "owner_user", errors)
    unit = user = None
    if unit_id is not None and user_id is not None:
        errors["owner_user"] = [_("Give either an owner unit or an owner person, not both.")]
    elif unit_id is None and user_id is None and not {"owner_unit", "owner_user"} & errors.keys():
        errors["owner_unit"] = [_("Give the owner: a unit or a person.")]
    elif unit_id is not None:
        unit = units_visible_to(actor).filter(pk=unit_id).first()
        if unit is None:
            errors["owner_unit"] = [_("No such unit in your territory.")]
    elif user_id is not None:
        user = accounts_visible_to(actor).filter(pk=user_id, is_active=True).first()
        if user is None:
            errors["owner_user"] = [_("No such active account in your territory.")]
    task_ids = _task_ids(tasks, errors)
    codes = _division_codes(divisions, errors)
    if len(task_ids) > MAX_ATTACHED or len(codes) > MAX_ATTACHED:
        errors.setdefault("tasks", []).append(_("Attach at most %(n)d items.") % {"n": MAX_ATTACHED})
    if task_ids and "tasks" not in errors:
        found = set(tasks_visible_to(actor).filter(pk__in=task_ids).values_list("pk", flat=True))
        missing = [f"T{i}" for i in task_ids if i not in found]
        if missing:
            errors["tasks"] = [
                _("Not tasks in your territory: %(numbers)s.") % {"numbers": ", ".join(missing)}
            ]
    if codes and "divisions" not in errors:
        found_codes = set(divisions_visible_to(actor).filter(code__in=codes).values_list("code", flat=True))
        missing = [c for c in codes if c not in found_codes]
        if missing:
            errors["divisions"] = [
                _("Not divisions in your territory: %(codes)s.") % {"codes": ", ".join(missing)}
            ]
    if errors:
        raise ValidationError(errors)
    assert deadline is not None
    owner = unit if unit is not None else user
    assert owner is not None and owner.division_id is not None
    owner_division: str = owner.division_id
    alerts = WARNING_BIT if deadline - WARNING_BEFORE <= now else 0
    with transaction.atomic():
        order = SupervisionOrder.objects.create(
            title=title,
            text=text,
            deadline=deadline,
            priority=priority,
            owner_unit=unit,
            owner_user=user,
            issuer=actor,
            issuer_division_id=str(actor.division_id or owner_division),
            owner_division_id=owner_division,
            alerts=alerts,
            next_alert_at=_next_alert(deadline, alerts),
            created_at=now,
            updated_at=now,
        )
        if task_ids:
            order.tasks.add(*task_ids)
        if codes:
            order.divisions.add(*Division.objects.filter(code__in=codes))
        SupervisionOrderEvent.objects.create(order=order, kind="issued", actor=actor, created_at=now)
        _notify(order, _owner_recipients(order), event="issued", now=now)
    return order


def _next_alert(deadline: datetime, alerts: int) -> datetime | None:
    if alerts & OVERDUE_BIT:
        return None
    if alerts & WARNING_BIT:
        return deadline
    return deadline - WARNING_BEFORE


# ---- the owner's and the issuer's moves --------------------------------------------------------------


def _locked(order: SupervisionOrder) -> SupervisionOrder:
    return (
        SupervisionOrder.objects.select_for_update(of=("self",)).select_related("owner_unit").get(pk=order.pk)
    )


def _require_owner(actor, order: SupervisionOrder) -> None:
    if not is_owner(actor, order):
        raise PermissionDenied(_("Only the owner of the order (the person, or the owner unit) may do this."))


def _require_decider(actor, order: SupervisionOrder) -> None:
    if not can_decide(actor, order):
        raise PermissionDenied(_("Only the issuer (or a duty officer of the same desk) may do this."))


def _refuse(order: SupervisionOrder, message: str) -> OrderConflict:
    return OrderConflict(message % {"state": order.get_state_display()}, order.state)


def _event(order, kind: str, actor, now: datetime, text: str = "") -> None:
    SupervisionOrderEvent.objects.create(order=order, kind=kind, actor=actor, text=text, created_at=now)


def acknowledge_order(*, order: SupervisionOrder, actor, now: datetime | None = None) -> SupervisionOrder:
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(order)
        _require_owner(actor, order)
        if order.state != OrderState.ISSUED:
            raise _refuse(order, _("The order is already %(state)s: only an issued order is acknowledged."))
        order.state = OrderState.ACKNOWLEDGED
        order.acknowledged_at = now
        order.updated_at = now
        order.save(update_fields=["state", "acknowledged_at", "updated_at"])
        _event(order, "acknowledged", actor, now)
    return order


def _required_text(value, field: str, message: str) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise ValidationError({field: [_("Give text.")]})
    if not value:
        raise ValidationError({field: [message]})
    if len(value) > 5000:
        raise ValidationError({field: [_("At most 5,000 characters.")]})
    return value


def reply_order(*, order: SupervisionOrder, actor, text, now: datetime | None = None) -> SupervisionOrder:
    """A progress reply; the first one moves the order to in progress (acknowledging it on the way)."""
    now = now or timezone.now()
    text = _required_text(text, "text", _("Write what has been done."))
    with transaction.atomic():
        order = _locked(order)
        _require_owner(actor, order)
        if order.state not in OPEN_STATES:
            raise _refuse(order, _("The order is %(state)s: replies are closed until it is sent back."))
        order.state = OrderState.IN_PROGRESS
        order.acknowledged_at = order.acknowledged_at or now
        order.updated_at = now
        order.save(update_fields=["state", "acknowledged_at", "updated_at"])
        _event(order, "reply", actor, now, text)
    return order


def complete_order(
    *, order: SupervisionOrder, actor, text="", now: datetime | None = None
) -> SupervisionOrder:
    """The owner reports the order done: its clock stops; the issuer is notified to accept it."""
    now = now or timezone.now()
    if not isinstance(text, str):
        raise ValidationError({"text": [_("Give text.")]})
    with transaction.atomic():
        order = _locked(order)
        _require_owner(actor, order)
        if order.state == OrderState.ISSUED:
            raise _refuse(order, _("Acknowledge the order before completing it."))
        if order.state not in OPEN_STATES:
            raise _refuse(order, _("The order is already %(state)s."))
        order.state = OrderState.COMPLETED
        order.completed_at = now
        order.next_alert_at = None
        order.updated_at = now
        order.save(update_fields=["state", "completed_at", "next_alert_at", "updated_at"])
        _event(order, "completed", actor, now, text.strip()[:5000])
        _notify(order, _issuer_recipients(order), event="completed", now=now)
    return order


def accept_order(*, order: SupervisionOrder, actor, now: datetime | None = None) -> SupervisionOrder:
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(order)
        _require_decider(actor, order)
        if order.state != OrderState.COMPLETED:
            raise _refuse(order, _("The order is %(state)s: only a completed order can be accepted."))
        order.state = OrderState.ACCEPTED
        order.accepted_at = now
        order.updated_at = now
        order.save(update_fields=["state", "accepted_at", "updated_at"])
        _event(order, "accepted", actor, now)
        _notify(order, _owner_recipients(order), event="accepted", now=now)
    return order


def send_back_order(
    *, order: SupervisionOrder, actor, reason, now: datetime | None = None
) -> SupervisionOrder:
    """Back to the owner with the reason: in progress when it has replies, else acknowledged; the
    deadline clock runs again (an overdue escalation already recorded is not repeated)."""
    now = now or timezone.now()
    reason = _required_text(reason, "reason", _("Say why the order is sent back."))
    with transaction.atomic():
        order = _locked(order)
        _require_decider(actor, order)
        if order.state != OrderState.COMPLETED:
            raise _refuse(order, _("The order is %(state)s: only a completed order can be sent back."))
        replied = order.events.filter(kind="reply").exists()
        order.state = OrderState.IN_PROGRESS if replied else OrderState.ACKNOWLEDGED
        order.completed_at = None
        order.sent_back_count += 1
        order.next_alert_at = _next_alert(order.deadline, order.alerts)
        order.updated_at = now
        order.save(update_fields=["state", "completed_at", "sent_back_count", "next_alert_at", "updated_at"])
        _event(order, "sent_back", actor, now, reason)
        _notify(order, _owner_recipients(order), event="sent_back", now=now)
    return order


# ---- notifications -----------------------------------------------------------------------------------


def _owner_recipients(order: SupervisionOrder) -> set[int]:
    """The owner person; for an owner unit its leader, or its members when it has none."""
    ids = {order.owner_user_id} if order.owner_user_id else set()
    if order.owner_unit_id:
        leader = Unit.objects.filter(pk=order.owner_unit_id).values_list("leader_id", flat=True).first()
        if leader:
            ids.add(leader)
        else:
            ids |= set(
                UnitMembership.objects.filter(unit_id=order.owner_unit_id).values_list("user_id", flat=True)
            )
    return ids


def _issuer_recipients(order: SupervisionOrder) -> set[int]:
    return {order.issuer_id}


def _notify(order: SupervisionOrder, recipients: set[int], *, event: str, now: datetime) -> int:
    rows = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                kind=NOTIFICATION_KIND,
                data={"order": order.pk, "event": event, "deadline": order.deadline.isoformat()},
                created_at=now,
            )
            for user_id in sorted(recipients)
            if user_id
        ]
    )
    create_deliveries_for([row.pk for row in rows])
    return len(rows)


EVENT_SUBJECTS = {
    "issued": gettext_lazy("Supervision order %(number)s for you: %(title)s"),
    "completed": gettext_lazy("Supervision order %(number)s completed: %(title)s"),
    "accepted": gettext_lazy("Supervision order %(number)s accepted: %(title)s"),
    "sent_back": gettext_lazy("Supervision order %(number)s sent back: %(title)s"),
    "warning": gettext_lazy("Supervision order %(number)s due soon: %(title)s"),
    "overdue": gettext_lazy("Supervision order %(number)s is overdue: %(title)s"),
}


def render_notification(notification: Notification) -> tuple[str, str]:
    """(subject, body) of a supervision-order notification, in the active language."""
    data = notification.data or {}
    order_id = data.get("order")
    title = (
        SupervisionOrder.objects.filter(pk=order_id).values_list("title", flat=True).first()
        if order_id
        else None
    )
    number = f"D{order_id}"
    template = EVENT_SUBJECTS.get(data.get("event", ""), EVENT_SUBJECTS["issued"])
    subject = str(template) % {"number": number, "title": title or ""}
    deadline = data.get("deadline", "")
    try:
        local = timezone.localtime(datetime.fromisoformat(deadline)).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        local = deadline
    body = _("Deadline %(deadline)s. Open the order: /supervision/%(id)s/") % {
        "deadline": local,
        "id": order_id,
    }
    return subject, body


# ---- the deadline sweep ------------------------------------------------------------------------------


def _sweep_sql(delivery_ctes: list[str], delivery_count: str) -> str:
    deliveries = "".join(f",\n    {cte}" for cte in delivery_ctes)
    return f"""
    WITH due AS MATERIALIZED (
        SELECT o.id, o.deadline, o.alerts, o.issuer_id, o.owner_user_id, o.owner_unit_id
        FROM duty_supervisionorder o
        WHERE o.next_alert_at IS NOT NULL AND o.next_alert_at <= %(now)s
        ORDER BY o.next_alert_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    levels AS MATERIALIZED (
        SELECT d.*,
               CASE WHEN d.deadline <= %(now)s THEN {OVERDUE_BIT | WARNING_BIT}
                    WHEN d.deadline - %(warn_seconds)s * interval '1 second' <= %(now)s THEN {WARNING_BIT} ELSE 0 END AS due_bits
        FROM due d
    ),
    -- Only the highest level that is new: an order found already past its deadline is not warned first.
    events AS MATERIALIZED (
        SELECT l.id AS order_id,
               CASE WHEN l.due_bits & {OVERDUE_BIT} <> 0 THEN 'overdue' ELSE 'warning' END AS kind
        FROM levels l
        WHERE l.due_bits & ~l.alerts & {OVERDUE_BIT | WARNING_BIT} <> 0
          AND NOT (l.due_bits & {OVERDUE_BIT} = 0 AND l.alerts & {WARNING_BIT} <> 0)
    ),
    recorded AS (
        INSERT INTO duty_supervisionorderevent (order_id, kind, actor_id, text, created_at)
        SELECT order_id, kind, NULL, '', %(now)s FROM events
        ON CONFLICT (order_id, kind) WHERE kind IN ('warning', 'overdue') DO NOTHING
        RETURNING id, order_id, kind
    ),
    updated AS (
        UPDATE duty_supervisionorder o
        SET alerts = o.alerts | l.due_bits,
            next_alert_at = CASE WHEN (o.alerts | l.due_bits) & {OVERDUE_BIT} <> 0 THEN NULL
                                 WHEN (o.alerts | l.due_bits) & {WARNING_BIT} <> 0 THEN o.deadline
                                 ELSE o.deadline - %(warn_seconds)s * interval '1 second' END,
            overdue_at = CASE WHEN l.due_bits & {OVERDUE_BIT} <> 0 AND o.overdue_at IS NULL
                              THEN %(now)s ELSE o.overdue_at END
        FROM levels l
        WHERE o.id = l.id
        RETURNING o.id
    ),
    recipients AS (
        SELECT r.id AS event_id, x.user_id
        FROM recorded r
        JOIN due d ON d.id = r.order_id
        LEFT JOIN tasks_unit un ON un.id = d.owner_unit_id
        CROSS JOIN LATERAL (VALUES (d.owner_user_id), (d.issuer_id), (un.leader_id)) AS x(user_id)
        UNION ALL
        -- An owner unit without a leader: its members.
        SELECT r.id, m.user_id
        FROM recorded r
        JOIN due d ON d.id = r.order_id
        JOIN tasks_unit un ON un.id = d.owner_unit_id AND un.leader_id IS NULL
        JOIN tasks_unitmembership m ON m.unit_id = un.id
    ),
    notified AS (
        INSERT INTO tasks_notification (recipient_id, kind, data, created_at)
        SELECT DISTINCT ON (x.event_id, x.user_id) x.user_id, '{NOTIFICATION_KIND}',
               jsonb_build_object(
                   'order', r.order_id, 'event', r.kind, 'deadline', d.deadline,
                   'level', CASE r.kind WHEN 'overdue' THEN 'breach' ELSE 'warning' END),
               %(now)s
        FROM recipients x
        JOIN recorded r ON r.id = x.event_id
        JOIN due d ON d.id = r.order_id
        WHERE x.user_id IS NOT NULL
        ORDER BY x.event_id, x.user_id
        RETURNING id, recipient_id, kind, data->>'level' AS level, created_at
    ){deliveries}
    SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM recorded), (SELECT count(*) FROM notified),
           {delivery_count}
    """


_ANY_DUE_SQL = (
    "SELECT 1 FROM duty_supervisionorder WHERE next_alert_at IS NOT NULL AND next_alert_at <= %(now)s LIMIT 1"
)


def sweep_step(*, now: datetime, limit: int = 1000) -> dict[str, int]:
    delivery_ctes, delivery_count, delivery_params = delivery_inserts("notified")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANY_DUE_SQL, {"now": now})
        if cursor.fetchone() is None:
            return {"orders": 0, "escalations": 0, "notifications": 0, "deliveries": 0}
        cursor.execute(
            _sweep_sql(delivery_ctes, delivery_count),
            {
                **delivery_params,
                "now": now,
                "limit": limit,
                "warn_seconds": int(WARNING_BEFORE.total_seconds()),
            },
        )
        orders, escalations, notifications, deliveries = cursor.fetchone()
    return {
        "orders": orders,
        "escalations": escalations,
        "notifications": notifications,
        "deliveries": deliveries,
    }


def sweep_orders(*, now: datetime | None = None, limit: int = 1000, max_rounds: int = 1000) -> dict[str, int]:
    """The registered clock sweep "supervision_orders": record each due warning and overdue escalation
    once and notify the owner, the owner unit's leader and the issuer. Steps until one comes back short
    (see tasks/sweep.py for why that leaves no due row behind when sweeps run at the same time)."""
    now = now or timezone.now()
    total = {"orders": 0, "escalations": 0, "notifications": 0, "deliveries": 0}
    for _round in range(max_rounds):
        result = sweep_step(now=now, limit=limit)
        for key, value in result.items():
            total[key] += value
        if result["orders"] < limit:
            break
    return {key: value for key, value in total.items() if key != "orders"}


def attached_tasks_visible(user, order: SupervisionOrder) -> list[TracingTask]:
    """The attached tasks `user` may open (others are shown by number only)."""
    return list(tasks_visible_to(user).filter(supervision_orders=order).order_by("pk"))
