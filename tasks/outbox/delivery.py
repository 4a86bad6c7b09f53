"""The delivery step of the outbox, shared by every flow (see the package docstring and docs/outbox.md).

A flow is a `Flow` subclass naming its delivery model and saying how a row becomes a message. The
model has at least `channel`, `status` ("pending" / "sent" / "failed"), `attempts`, `next_attempt_at`,
`sent_at` and `last_error` (and optionally `gateway_id`), and a partial index on `next_attempt_at`
for `status = 'pending'`, the only rows the claim reads.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db import models, transaction
from django.utils import timezone

from .backends import BaseBackend, Message, outcome

logger = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
TOO_LATE = "too late: not sent"
NO_RESULT = "no result from backend"


def backoff_minutes(attempts: int) -> int:
    """Minutes before the next attempt after `attempts` failed ones: 2, 4, 8 … at most 60."""
    return min(2**attempts, 60)


class Flow:
    """One outbound flow. Subclasses set `name` and `model` and implement `backend` and `message`;
    the other hooks have defaults."""

    name: ClassVar[str]
    model: ClassVar[type[models.Model]]
    related: ClassVar[tuple[str, ...]] = ()  # select_related of the claim
    fields: ClassVar[tuple[str, ...]] = ("status", "attempts", "sent_at", "last_error", "next_attempt_at")
    # The status a sent row takes (a flow whose table says "delivered" keeps its word).
    sent_status: ClassVar[str] = SENT

    def pending(self) -> models.QuerySet[Any]:
        """The pending rows of this flow (a flow may narrow them, e.g. to one channel)."""
        return self.model._default_manager.filter(status=PENDING)

    def max_attempts(self) -> int:
        raise NotImplementedError

    def late_cutoff(self) -> timedelta:
        raise NotImplementedError

    def created_at(self, row: Any) -> datetime:
        """When the message was wanted: past `late_cutoff()` after it, it is not sent at all."""
        value: datetime = row.created_at
        return value

    def cancel_reason(self, row: Any) -> str | None:
        """Why a due row is not to be sent any more (failed without an attempt), or None."""
        return None

    def backend(self, channel: str) -> BaseBackend:
        raise NotImplementedError

    def message(self, row: Any) -> Message:
        raise NotImplementedError

    def retry_at(self, row: Any, now: datetime) -> datetime:
        return now + timedelta(minutes=backoff_minutes(row.attempts))

    def gives_up(self, row: Any) -> bool:
        """A failure that is final before the maximum attempts (e.g. a channel no longer configured)."""
        return False

    def note_outcome(self, row: Any, error: str | None, reference: str) -> None:
        """Keep more of a send's outcome on the row than the outbox does (e.g. a webhook's HTTP status
        from the backend's reference); called before the row's status is set. Nothing by default."""

    def rendering(self) -> contextlib.AbstractContextManager[Any]:
        """The context the messages are rendered in (e.g. the site language)."""
        return contextlib.nullcontext()


_flows: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    """Add a flow (from its app's AppConfig.ready); registering the same name again replaces it."""
    _flows[flow.name] = flow
    return flow


def flows() -> dict[str, Flow]:
    from .. import notify  # noqa: F401  (the base app's own flow registers on import)

    return dict(_flows)


def get_flow(name: str) -> Flow:
    try:
        return flows()[name]
    except KeyError:
        raise LookupError(f"no outbox flow {name!r} (registered: {sorted(_flows)})") from None


def _record(flow: Flow, row: Any, error: str | None, gateway_id: str, now: datetime) -> None:
    row.attempts += 1
    flow.note_outcome(row, error, gateway_id)
    if error is None:
        row.status, row.sent_at, row.last_error = flow.sent_status, now, ""
        if "gateway_id" in flow.fields:
            row.gateway_id = gateway_id
    elif row.attempts >= flow.max_attempts() or flow.gives_up(row):
        row.status, row.last_error = FAILED, error
        logger.error("%s delivery %s failed for good: %s", flow.name, row.pk, error)
    else:
        row.last_error = error
        row.next_attempt_at = flow.retry_at(row, now)


def _send(flow: Flow, channel: str, group: list[Any], now: datetime) -> None:
    messages = [flow.message(row) for row in group]
    try:
        results = flow.backend(channel).send_messages(messages)
    except Exception as exc:
        logger.exception("%s: channel %s failed", flow.name, channel)
        results = {m.delivery_id: repr(exc) for m in messages}
    for row in group:
        error, gateway_id = outcome(results.get(row.pk, NO_RESULT))
        _record(flow, row, error, gateway_id, now)


def deliver_step(flow: Flow | str, *, now: datetime | None = None, limit: int = 100) -> int:
    """Claim up to `limit` due pending rows of `flow` (SKIP LOCKED), drop the late and the cancelled,
    send the rest per channel, record the outcomes in one UPDATE. Returns how many rows were claimed
    (0: nothing to do). At-least-once (package docstring)."""
    flow = get_flow(flow) if isinstance(flow, str) else flow
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            flow.pending()
            .select_for_update(skip_locked=True, of=("self",))
            .filter(next_attempt_at__lte=now)
            .select_related(*flow.related)
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return 0
        cutoff = now - flow.late_cutoff()
        by_channel: dict[str, list[Any]] = {}
        for row in rows:
            if flow.created_at(row) < cutoff:
                row.status, row.last_error = FAILED, TOO_LATE
                logger.warning("%s delivery %s dropped: older than the late cut-off", flow.name, row.pk)
            elif reason := flow.cancel_reason(row):
                row.status, row.last_error = FAILED, reason
            else:
                by_channel.setdefault(row.channel, []).append(row)
        with flow.rendering():
            for channel, group in by_channel.items():
                _send(flow, channel, group, now)
        flow.model._default_manager.bulk_update(rows, list(flow.fields))
    return len(rows)


def deliver_pending(
    flow: Flow | str, *, now: datetime | None = None, limit: int = 100, max_rounds: int = 100
) -> int:
    """Run the step until it claims less than a full batch."""
    total = 0
    for _round in range(max_rounds):
        claimed = deliver_step(flow, now=now, limit=limit)
        total += claimed
        if claimed < limit:
            break
    return total
