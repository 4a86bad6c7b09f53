"""Source feedback (docs/worktypes.md): tell a big-data or health-code platform what became of each lead
it sent. Optional: SOURCE_FEEDBACK_ENDPOINTS maps a source to a URL ("big_data=https://…,red_code=…").

`feedback_record(task_ids, now)` runs in the transaction that ends the tasks (close, cancel, merge, bulk
close, the verification outcome): one INSERT … SELECT over the tasks' leads of the configured sources.
Sending is the outbox's `source_feedback` flow (tasks/outbox/, docs/outbox.md): the outbox claims the
due rows with SKIP LOCKED, drops those past SOURCE_FEEDBACK_LATE_CUTOFF_MINUTES, and records attempts
and retries; this flow's backend POSTs the claimed rows per endpoint as one JSON list signed like the
upstream push (HMAC-SHA256 of UPSTREAM_SECRET in X-TC-Signature), keeps the HTTP status on the row, and
retries with the upstream backoff, giving up after UPSTREAM_MAX_ATTEMPTS. At least once: a crash
between the POST and the commit sends the rows again, and the receiver treats (lead_id, ended_at) as
idempotent."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from tasks.outbox import BaseBackend, Flow, Message, deliver_pending

from .models import SourceFeedback
from .services import _post, backoff, sign

log = logging.getLogger(__name__)

CHANNEL = "webhook"


def endpoints() -> dict[str, str]:
    return dict(settings.SOURCE_FEEDBACK_ENDPOINTS)


def feedback_record(*, task_ids: Iterable[int], now: datetime) -> int:
    """Queue the feedback of the leads of these (just ended) tasks; nothing when no source is set up."""
    targets = endpoints()
    ids = list(task_ids)
    if not targets or not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reports_sourcefeedback (lead_id, source, external_id, task_id, kind, outcome, ended_at,
                endpoint, status, attempts, next_attempt_at, last_error)
            SELECT l.id, l.source, l.external_id, t.id, t.kind,
                   CASE WHEN t.status = 'closed' THEN t.outcome ELSE t.status END,
                   coalesce(t.closed_at, %s), e.url, 'pending', 0, %s, ''
            FROM tasks_tracingtask t
            JOIN tasks_leadlink k ON k.task_id = t.id
            JOIN tasks_lead l ON l.id = k.lead_id
            JOIN unnest(%s::text[], %s::text[]) AS e(source, url) ON e.source = l.source
            WHERE t.id = ANY(%s) AND t.status IN ('closed', 'cancelled', 'merged')
            """,
            [now, now, list(targets), list(targets.values()), ids],
        )
        return cursor.rowcount


def _item(row: SourceFeedback) -> dict[str, Any]:
    return {
        "lead_id": row.lead_id,
        "source": row.source,
        "external_id": row.external_id,
        "task_id": row.task_id,
        "kind": row.kind,
        "outcome": row.outcome,
        "ended_at": row.ended_at.isoformat(),
    }


class SignedWebhookBackend(BaseBackend):
    """One signed JSON POST per endpoint carrying every claimed message for it (a list): a platform
    gets its feedback in batches, not one request per lead. Every message of a POST shares its outcome;
    the reference is the HTTP status (the flow keeps it on the row)."""

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        by_url: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_url[message.address].append(message)
        results: dict[int, Any] = {}
        for url, group in by_url.items():
            items = [json.loads(m.body) for m in group]
            body = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
            code, error = None, ""
            try:
                code = _post(url, body, sign(body))
            except Exception as exc:  # any network failure is retried
                error = f"{type(exc).__name__}: {exc}"[:1000]
            ok = code is not None and 200 <= code < 300
            if ok:
                log.info("source feedback: %s rows delivered to %s", len(group), url)
            else:
                log.warning("source feedback to %s failed: %s", url, error or code)
            outcome = (None if ok else (error or f"HTTP {code}"), str(code or ""))
            results.update({m.delivery_id: outcome for m in group})
        return results


class SourceFeedbackFlow(Flow):
    name = "source_feedback"
    model = SourceFeedback
    fields = ("status", "attempts", "sent_at", "last_error", "next_attempt_at", "last_status_code")
    sent_status = SourceFeedback.Status.DELIVERED

    def max_attempts(self) -> int:
        return int(settings.UPSTREAM_MAX_ATTEMPTS)

    def late_cutoff(self) -> timedelta:
        return timedelta(minutes=settings.SOURCE_FEEDBACK_LATE_CUTOFF_MINUTES)

    def created_at(self, row: SourceFeedback) -> datetime:
        return row.ended_at

    def cancel_reason(self, row: SourceFeedback) -> str | None:
        if row.endpoint not in endpoints().values():
            return "the source's feedback endpoint is no longer configured"
        return None

    def backend(self, channel: str) -> BaseBackend:
        return SignedWebhookBackend(channel)

    def message(self, row: SourceFeedback) -> Message:
        return Message(row.pk, CHANNEL, row.endpoint, "", json.dumps(_item(row), ensure_ascii=False))

    def retry_at(self, row: SourceFeedback, now: datetime) -> datetime:
        return now + backoff(row.attempts)

    def note_outcome(self, row: SourceFeedback, error: str | None, reference: str) -> None:
        row.last_status_code = int(reference) if reference.isdigit() else None


FLOW = SourceFeedbackFlow()


def feedback_send(*, now: datetime | None = None, limit: int = 500, max_rounds: int = 100) -> int:
    """Deliver the due feedback (the outbox's step, until a round claims less than `limit`); returns
    how many rows were claimed."""
    return deliver_pending(FLOW, now=now, limit=limit, max_rounds=max_rounds)
