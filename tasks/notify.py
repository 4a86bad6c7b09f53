"""Notifications: rows first, sending afterwards (healthchecks' Flip → sendalerts).

* **In-app** is the `Notification` row itself: written in the same transaction as what caused it (an
  escalation, a transfer), shown in the inbox with an unread count. Nothing to send.
* **SMS and e-mail** are `NotificationDelivery` rows, one per notification and outside channel, created
  in the same transaction as the notifications (by the sweep, in the very statement that inserts them:
  `delivery_inserts`) for the recipients that have an address, and sent
  later by `deliver_step`: the "notifications" flow of the outbox (tasks/outbox/), which claims pending
  rows with `SELECT … FOR UPDATE SKIP LOCKED`, so any number of delivery workers can run at once.

Delivery is **at-least-once** (a duplicate SMS, never a lost escalation). A failing row is retried with
backoff and marked failed after NOTIFICATION_MAX_ATTEMPTS; a row older than
NOTIFICATION_LATE_CUTOFF_MINUTES is marked failed ("too late") rather than sent hours late.

Channels are configured like Django's e-mail backends (settings.NOTIFICATION_CHANNELS):

    NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.ConsoleBackend", "ADDRESS": "phone", "LEVELS": ["breach"],
                "KINDS": ["escalation", "transfer_requested"]},
        "email": {"BACKEND": "tasks.notify.DjangoEmailBackend", "ADDRESS": "email"},
    }

ADDRESS is the account field holding the address; KINDS and LEVELS (optional) restrict what the channel
carries. Backends (tasks/outbox/backends.py): ConsoleBackend (development), FileBackend (OPTIONS:
{"path": ...}, one JSON line per message), LocMemBackend (tests: `tasks.notify.outbox`),
DjangoEmailBackend (sends through Django's EMAIL_BACKEND), HttpGatewayBackend (a signed SMS gateway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Notification, NotificationDelivery
from .outbox import backends as outbox_backends
from .outbox.delivery import Flow, register
from .outbox.delivery import deliver_pending as outbox_pending
from .outbox.delivery import deliver_step as outbox_step

logger = logging.getLogger(__name__)

ADDRESS_FIELDS = {"phone", "email"}


def channel_config() -> dict:
    channels: dict = settings.NOTIFICATION_CHANNELS
    for name, conf in channels.items():
        if conf.get("ADDRESS") not in ADDRESS_FIELDS:
            raise ValueError(
                f"NOTIFICATION_CHANNELS[{name!r}]['ADDRESS'] must be one of {sorted(ADDRESS_FIELDS)}"
            )
    return channels


# --- rendering -----------------------------------------------------------------------------------

# Notification kinds of the apps built on tasks, rendered by them (registered from their ready()).
Renderer = Callable[[Notification], tuple[str, str]]
_renderers: dict[str, Renderer] = {}


# Where a notification of an upper app's kind leads when it names no task (None: nowhere of its own).
Linker = Callable[[Notification], str | None]
_linkers: dict[str, Linker] = {}


def register_renderer(kind: str, renderer: Renderer, linker: Linker | None = None) -> None:
    """`renderer(notification)` -> (subject, body) for notifications of `kind`, which an upper app
    writes (e.g. "supervision", "monitoring"); `linker(notification)` -> the page it leads to, if any;
    registering the kind again replaces both."""
    _renderers[kind] = renderer
    if linker is None:
        _linkers.pop(kind, None)
    else:
        _linkers[kind] = linker


def link(notification: Notification) -> str | None:
    """The page a notification leads to besides its task (the inbox links to the task first)."""
    linker = _linkers.get(notification.kind)
    return linker(notification) if linker is not None else None


def render(notification: Notification) -> tuple[str, str]:
    """(subject, body) in the active language."""
    from .models import AlertLevel, Clock

    renderer = _renderers.get(notification.kind)
    if renderer is not None:
        return renderer(notification)
    data = notification.data or {}
    task = f"T{notification.task_id}" if notification.task_id else ""
    kind = notification.kind
    if kind == Notification.Kind.ESCALATION:
        clock = Clock(data.get("clock", "dispatch")).label
        level = data.get("level")
        if level == AlertLevel.BREACH:
            subject = _("Task %(task)s: %(clock)s deadline missed") % {"task": task, "clock": clock}
        else:
            subject = _("Task %(task)s: %(clock)s deadline approaching") % {"task": task, "clock": clock}
        deadline = data.get("deadline", "")
        body = _("The %(clock)s deadline of task %(task)s is %(deadline)s.") % {
            "clock": clock,
            "task": task,
            "deadline": _local(deadline),
        }
    elif kind == Notification.Kind.TRANSFER_REQUESTED:
        subject = _("Task %(task)s is being transferred to you") % {"task": task}
        body = _("Accept or reject the transfer of task %(task)s to %(to)s.") % {
            "task": task,
            "to": data.get("to_name", ""),
        }
    elif kind == Notification.Kind.TRANSFER_ACCEPTED:
        subject = _("Transfer of task %(task)s accepted") % {"task": task}
        body = _("%(to)s took task %(task)s.") % {"task": task, "to": data.get("to_name", "")}
    elif kind == Notification.Kind.TRANSFER_REJECTED:
        subject = _("Transfer of task %(task)s rejected") % {"task": task}
        body = _("Reason: %(reason)s") % {"reason": data.get("reason", "")}
    elif kind in (Notification.Kind.POSITIVE_RESULT, Notification.Kind.ABNORMAL_CHECKIN):
        # Names no person: the message may travel by SMS. The task (or monitoring period) says who.
        ref = task or (f"M{data['period']}" if data.get("period") else f"#{data.get('person', '')}")
        if kind == Notification.Kind.POSITIVE_RESULT:
            subject = _("Positive test result: %(ref)s") % {"ref": ref}
            body = _(
                "A positive test result came in for the person of %(ref)s (sample %(sample)s). "
                "Their case status is set and a P1 investigation is opened or escalated."
            ) % {"ref": ref, "sample": data.get("sample_id") or "-"}
        else:
            subject = _("Abnormal check-in: %(ref)s") % {"ref": ref}
            body = _(
                "The person of %(ref)s reported an abnormal check-in on %(day)s. A test is asked for and "
                "a P1 investigation is opened or escalated."
            ) % {"ref": ref, "day": data.get("day", "")}
    elif kind == Notification.Kind.RETURNED:
        subject = _("Task %(task)s was returned to you") % {"task": task}
        body = _("Correct and resubmit by %(deadline)s. Reasons: %(reasons)s") % {
            "deadline": _local(data.get("rework_due", "")),
            "reasons": data.get("reasons", ""),
        }
    elif kind == Notification.Kind.TRANSFERRED:
        subject = _("Task %(task)s was transferred to you") % {"task": task}
        body = _("Task %(task)s came to %(to)s by a transfer; confirm receipt.") % {
            "task": task,
            "to": data.get("to_name", ""),
        }
    elif int(data.get("count") or 1) > 1:
        count = int(data["count"])
        shown = ", ".join(f"T{task_id}" for task_id in data.get("tasks", []))
        subject = _("%(count)s tasks were assigned to you") % {"count": count}
        if count > len(data.get("tasks", [])):
            body = _("%(count)s tasks were assigned to you, among them %(tasks)s; see My tasks.") % {
                "count": count,
                "tasks": shown,
            }
        else:
            body = _("%(count)s tasks were assigned to you: %(tasks)s.") % {"count": count, "tasks": shown}
    else:
        if not task and data.get("tasks"):
            task = f"T{data['tasks'][0]}"
        subject = _("Task %(task)s was assigned to you") % {"task": task}
        body = subject
    return subject, body


def _local(iso: str) -> str:
    from datetime import datetime

    try:
        return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso or ""


# --- creating delivery rows ----------------------------------------------------------------------


def delivery_inserts(source: str) -> tuple[list[str], str, dict]:
    """The delivery rows of a set of notifications, as data-modifying CTEs for one statement.

    `source` names a relation (a CTE) with the columns (id, recipient_id, kind, level, created_at) of the
    notifications (`level` is `data->>'level'`, NULL when none). Returns (CTEs `name AS (INSERT …)`, an
    SQL expression counting the rows they inserted, parameters): one pending delivery per notification
    and configured channel, for active recipients with an address; idempotent (ON CONFLICT DO NOTHING).
    The sweep puts these in its own statement; `create_deliveries_for` wraps them for given ids."""
    ctes, counts, params = [], [], {}
    for i, (name, conf) in enumerate(channel_config().items()):
        address = conf["ADDRESS"]  # validated against ADDRESS_FIELDS: safe to interpolate
        ctes.append(
            f"""delivery_{i} AS (
                INSERT INTO tasks_notificationdelivery
                    (notification_id, channel, address, status, attempts, next_attempt_at, last_error)
                SELECT n.id, %(channel_{i})s, u.{address}, 'pending', 0, n.created_at, ''
                FROM {source} n JOIN tasks_user u ON u.id = n.recipient_id
                WHERE u.{address} <> '' AND u.is_active
                  AND (%(kinds_{i})s::text[] IS NULL OR n.kind = ANY(%(kinds_{i})s::text[]))
                  AND (%(levels_{i})s::text[] IS NULL OR n.level IS NULL OR n.level = ANY(%(levels_{i})s::text[]))
                ON CONFLICT (notification_id, channel) DO NOTHING
                RETURNING 1
            )"""
        )
        counts.append(f"(SELECT count(*) FROM delivery_{i})")
        params.update(
            {f"channel_{i}": name, f"kinds_{i}": conf.get("KINDS"), f"levels_{i}": conf.get("LEVELS")}
        )
    return ctes, " + ".join(counts) or "0", params


def create_deliveries_for(notification_ids: list[int]) -> int:
    """One pending delivery per notification and configured channel, for recipients with an address;
    in one statement (see delivery_inserts). Idempotent (ON CONFLICT DO NOTHING)."""
    if not notification_ids:
        return 0
    ctes, count, params = delivery_inserts("notified")
    if not ctes:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH notified AS (SELECT n.id, n.recipient_id, n.kind, n.data->>'level' AS level, n.created_at "
            "FROM tasks_notification n WHERE n.id = ANY(%(ids)s)), " + ", ".join(ctes) + f" SELECT {count}",
            {**params, "ids": list(notification_ids)},
        )
        return cursor.fetchone()[0]


def assigned_digest_ctes(source: str) -> tuple[list[str], dict]:
    """Data-modifying CTEs that tell each assignee of a set dispatch what came to them: one "assigned"
    notification per assignee, not per task (a grid worker given forty tasks by one intake batch gets
    one message saying forty, an SMS channel sends one text), with its delivery rows.

    `source` names a relation with the columns (id, assignee_id) of the tasks just assigned (a CTE of
    the same statement, or a table). A single task is linked from the notification; more are counted,
    with the first few ids in `data` so the inbox can link them."""
    ctes = [
        f"""assigned_note AS (
            INSERT INTO tasks_notification (recipient_id, kind, task_id, data, created_at)
            SELECT s.assignee_id, 'assigned',
                   CASE WHEN count(*) = 1 THEN min(s.id) END,
                   jsonb_build_object('count', count(*),
                                      'tasks', (array_agg(s.id ORDER BY s.id))[1:%(digest_ids)s]),
                   %(digest_now)s
            FROM {source} s
            WHERE s.assignee_id IS NOT NULL
            GROUP BY s.assignee_id
            RETURNING id, recipient_id, kind, NULL::text AS level, created_at
        )"""
    ]
    delivery_ctes, _count, params = delivery_inserts("assigned_note")
    return ctes + delivery_ctes, {**params, "digest_ids": ASSIGNED_DIGEST_IDS}


# Task ids kept in a digest notification's data (the inbox links them; the count says how many in all).
ASSIGNED_DIGEST_IDS = 20


# --- the outbox flow ------------------------------------------------------------------------------
# Backends, claim, backoff, late cut-off and attempts are the outbox's (tasks/outbox/); the names below
# stay importable from here because NOTIFICATION_CHANNELS name them ("tasks.notify.LocMemBackend").

ConsoleBackend = outbox_backends.ConsoleBackend
FileBackend = outbox_backends.FileBackend
DjangoEmailBackend = outbox_backends.DjangoEmailBackend
HttpGatewayBackend = outbox_backends.HttpGatewayBackend
BaseBackend = outbox_backends.BaseBackend
Message = outbox_backends.Message

outbox: list[Message] = []


class LocMemBackend(outbox_backends.LocMemBackend):
    """For tests: messages land in `tasks.notify.outbox`; OPTIONS {"fail": True} makes every send fail."""

    outbox = outbox


def get_backend(channel: str) -> BaseBackend:
    conf = channel_config()[channel]
    return outbox_backends.load_backend(conf["BACKEND"], channel, conf.get("OPTIONS", {}))


class NotificationFlow(Flow):
    """Staff notifications through their outside channels (NOTIFICATION_CHANNELS)."""

    name = "notifications"
    model = NotificationDelivery
    related = ("notification",)

    def max_attempts(self) -> int:
        return int(settings.NOTIFICATION_MAX_ATTEMPTS)

    def late_cutoff(self) -> timedelta:
        return timedelta(minutes=settings.NOTIFICATION_LATE_CUTOFF_MINUTES)

    def created_at(self, row: NotificationDelivery) -> datetime:
        return row.notification.created_at

    def backend(self, channel: str) -> BaseBackend:
        return get_backend(channel)

    def message(self, row: NotificationDelivery) -> Message:
        return Message(row.pk, row.channel, row.address, *render(row.notification))

    def gives_up(self, row: NotificationDelivery) -> bool:
        return row.channel not in channel_config()

    def rendering(self) -> AbstractContextManager[Any]:
        return translation.override(settings.LANGUAGE_CODE)


FLOW = register(NotificationFlow())


def deliver_step(*, now: datetime | None = None, limit: int = 100) -> int:
    """Claim up to `limit` due pending deliveries (SKIP LOCKED), send them, record the outcome.
    Returns how many rows were claimed (0: nothing to do). At-least-once: see tasks/outbox/."""
    return outbox_step(FLOW, now=now, limit=limit)


def deliver_pending(*, now: datetime | None = None, limit: int = 100, max_rounds: int = 100) -> int:
    return outbox_pending(FLOW, now=now, limit=limit, max_rounds=max_rounds)


# --- inbox ---------------------------------------------------------------------------------------


def inbox_for(user):
    return Notification.objects.filter(recipient=user)


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notifications_mark_read(*, user, ids: list[int] | None = None, now=None) -> int:
    """Mark some (or, with ids=None, all) of the user's unread notifications read."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=now or timezone.now())
