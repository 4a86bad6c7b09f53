"""Notifications: rows first, sending afterwards (healthchecks' Flip → sendalerts).

* **In-app** is the `Notification` row itself: written in the same transaction as what caused it (an
  escalation, a transfer), shown in the inbox with an unread count. Nothing to send.
* **SMS and e-mail** are `NotificationDelivery` rows, one per notification and outside channel, created
  in the same transaction as the notifications (by the sweep, in the very statement that inserts them:
  `delivery_inserts`) for the recipients that have an address, and sent
  later by `deliver_step`, which claims pending rows with `SELECT … FOR UPDATE SKIP LOCKED` (zulip's
  deliver_scheduled_emails), so any number of delivery workers can run at once.

Delivery is **at-least-once**: a row is marked sent in the same transaction that claimed it, after the
channel accepted the message. If the worker dies between the two, the row is still pending and is sent
again by the next step — a duplicate SMS, never a lost escalation. A failing row is retried with
backoff (not in a tight loop) and marked failed after NOTIFICATION_MAX_ATTEMPTS; a row older than
NOTIFICATION_LATE_CUTOFF_MINUTES is marked failed ("too late") rather than sent hours late.

Channels are configured like Django's e-mail backends (settings.NOTIFICATION_CHANNELS):

    NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tasks.notify.ConsoleBackend", "ADDRESS": "phone", "LEVELS": ["breach"],
                "KINDS": ["escalation", "transfer_requested"]},
        "email": {"BACKEND": "tasks.notify.DjangoEmailBackend", "ADDRESS": "email"},
    }

ADDRESS is the account field holding the address; KINDS and LEVELS (optional) restrict what the channel
carries. Backends: ConsoleBackend (development), FileBackend (OPTIONS: {"path": ...}, one JSON line per
message), LocMemBackend (tests: `tasks.notify.outbox`), DjangoEmailBackend (sends through Django's
EMAIL_BACKEND). A real SMS gateway is a subclass of BaseBackend implementing `send_messages`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .models import Notification, NotificationDelivery

logger = logging.getLogger(__name__)

DEFAULT_CHANNELS = {
    "sms": {
        "BACKEND": "tasks.notify.ConsoleBackend",
        "ADDRESS": "phone",
        "KINDS": ["escalation", "transfer_requested"],
        "LEVELS": ["breach"],
    },
    "email": {"BACKEND": "tasks.notify.ConsoleBackend", "ADDRESS": "email"},
}
ADDRESS_FIELDS = {"phone", "email"}


def channel_config() -> dict:
    channels = getattr(settings, "NOTIFICATION_CHANNELS", DEFAULT_CHANNELS)
    for name, conf in channels.items():
        if conf.get("ADDRESS") not in ADDRESS_FIELDS:
            raise ValueError(
                f"NOTIFICATION_CHANNELS[{name!r}]['ADDRESS'] must be one of {sorted(ADDRESS_FIELDS)}"
            )
    return channels


# --- rendering -----------------------------------------------------------------------------------


def render(notification: Notification) -> tuple[str, str]:
    """(subject, body) in the active language."""
    from .models import AlertLevel, Clock

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
    else:
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


# --- backends ------------------------------------------------------------------------------------


@dataclass
class Message:
    delivery_id: int
    channel: str
    address: str
    subject: str
    body: str


class BaseBackend:
    def __init__(self, channel: str, **options):
        self.channel = channel
        self.options = options

    def send_messages(self, messages: list[Message]) -> dict[int, str | None]:
        """Send; return {delivery_id: None when accepted, else the error text}."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send_messages(self, messages):
        stream = self.options.get("stream") or sys.stdout
        for m in messages:
            stream.write(f"[{self.channel} → {m.address}] {m.subject}\n{m.body}\n")
        stream.flush()
        return {m.delivery_id: None for m in messages}


class FileBackend(BaseBackend):
    _lock = threading.Lock()

    def send_messages(self, messages):
        path = Path(self.options.get("path") or Path(settings.BASE_DIR) / ".local" / f"{self.channel}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a", encoding="utf-8") as fh:
            for m in messages:
                fh.write(json.dumps(m.__dict__, ensure_ascii=False) + "\n")
        return {m.delivery_id: None for m in messages}


outbox: list[Message] = []


class LocMemBackend(BaseBackend):
    """For tests: messages land in `tasks.notify.outbox`; OPTIONS {"fail": True} makes every send fail."""

    def send_messages(self, messages):
        if self.options.get("fail"):
            return {m.delivery_id: "simulated failure" for m in messages}
        outbox.extend(messages)
        return {m.delivery_id: None for m in messages}


class DjangoEmailBackend(BaseBackend):
    """E-mail through Django's own EMAIL_BACKEND (console or file backends in development)."""

    def send_messages(self, messages):
        from django.core.mail import EmailMessage, get_connection

        results: dict[int, str | None] = {}
        with get_connection(fail_silently=False) as conn:
            for m in messages:
                try:
                    EmailMessage(m.subject, m.body, to=[m.address], connection=conn).send()
                    results[m.delivery_id] = None
                except Exception as exc:
                    results[m.delivery_id] = repr(exc)
        return results


def get_backend(channel: str) -> BaseBackend:
    conf = channel_config()[channel]
    return import_string(conf["BACKEND"])(channel, **conf.get("OPTIONS", {}))


# --- delivery step -------------------------------------------------------------------------------


def _max_attempts() -> int:
    return getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", 5)


def _late_cutoff() -> timedelta:
    return timedelta(minutes=getattr(settings, "NOTIFICATION_LATE_CUTOFF_MINUTES", 360))


def deliver_step(*, now=None, limit: int = 100) -> int:
    """Claim up to `limit` due pending deliveries (SKIP LOCKED), send them, record the outcome.
    Returns how many rows were claimed (0: nothing to do). At-least-once: see the module docstring."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            NotificationDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=NotificationDelivery.Status.PENDING, next_attempt_at__lte=now)
            .select_related("notification")
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return 0
        by_channel: dict[str, list[NotificationDelivery]] = {}
        late: list[NotificationDelivery] = []
        for row in rows:
            if row.notification.created_at < now - _late_cutoff():
                late.append(row)
            else:
                by_channel.setdefault(row.channel, []).append(row)
        for row in late:
            row.status, row.last_error = NotificationDelivery.Status.FAILED, "too late: not sent"
            logger.warning("notification delivery %s dropped: older than the late cutoff", row.pk)
        with translation.override(settings.LANGUAGE_CODE):
            for channel, group in by_channel.items():
                messages = [Message(r.pk, channel, r.address, *render(r.notification)) for r in group]
                try:
                    results = get_backend(channel).send_messages(messages)
                except Exception as exc:
                    logger.exception("channel %s failed", channel)
                    results = {m.delivery_id: repr(exc) for m in messages}
                for row in group:
                    error = results.get(row.pk, "no result from backend")
                    row.attempts += 1
                    if error is None:
                        row.status, row.sent_at, row.last_error = NotificationDelivery.Status.SENT, now, ""
                    elif row.attempts >= _max_attempts() or row.channel not in channel_config():
                        row.status, row.last_error = NotificationDelivery.Status.FAILED, error
                        logger.error("notification delivery %s failed for good: %s", row.pk, error)
                    else:
                        row.last_error = error
                        row.next_attempt_at = now + timedelta(minutes=min(2**row.attempts, 60))
        NotificationDelivery.objects.bulk_update(
            rows, ["status", "attempts", "sent_at", "last_error", "next_attempt_at"]
        )
    return len(rows)


def deliver_pending(*, now=None, limit: int = 100, max_rounds: int = 100) -> int:
    total = 0
    for _round in range(max_rounds):
        claimed = deliver_step(now=now, limit=limit)
        total += claimed
        if claimed < limit:
            break
    return total


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
