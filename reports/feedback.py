"""Source feedback (docs/worktypes.md): tell a big-data or health-code platform what became of each lead
it sent. Optional: SOURCE_FEEDBACK_ENDPOINTS maps a source to a URL ("big_data=https://…,red_code=…").

`feedback_record(task_ids, now)` runs in the transaction that ends the tasks (close, cancel, merge, bulk
close, the verification outcome): one INSERT … SELECT over the tasks' leads of the configured sources.
`feedback_send(now)` — the Celery beat job and `manage.py send_source_feedback` — claims the due rows
with SKIP LOCKED (two senders at once never send a row twice in one round), POSTs them per endpoint as
one JSON list signed like the upstream push (HMAC-SHA256 of UPSTREAM_SECRET in X-TC-Signature),
marks them delivered on a 2xx, else counts the attempt, keeps the status code or error on the row and
retries with the upstream backoff, giving up after UPSTREAM_MAX_ATTEMPTS. At least once: a crash
between the POST and the commit sends the rows again, and the receiver treats (lead_id, ended_at) as
idempotent."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import SourceFeedback
from .services import _post, backoff, sign

log = logging.getLogger(__name__)


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


def _body(rows: list[SourceFeedback]) -> bytes:
    items = [
        {
            "lead_id": r.lead_id,
            "source": r.source,
            "external_id": r.external_id,
            "task_id": r.task_id,
            "kind": r.kind,
            "outcome": r.outcome,
            "ended_at": r.ended_at.isoformat(),
        }
        for r in rows
    ]
    return json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def feedback_send_step(*, now: datetime | None = None, limit: int = 500) -> int:
    """One round: returns how many rows it claimed (0: nothing due)."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            SourceFeedback.objects.select_for_update(skip_locked=True)
            .filter(status=SourceFeedback.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:limit]
        )
        by_endpoint: dict[str, list[SourceFeedback]] = defaultdict(list)
        for row in rows:
            by_endpoint[row.endpoint].append(row)
        for url, group in by_endpoint.items():
            body = _body(group)
            code, error = None, ""
            try:
                code = _post(url, body, sign(body))
            except Exception as exc:  # any network failure is retried
                error = f"{type(exc).__name__}: {exc}"[:1000]
            ok = code is not None and 200 <= code < 300
            ids = [r.pk for r in group]
            attempts = max(r.attempts for r in group) + 1
            if ok:
                SourceFeedback.objects.filter(pk__in=ids).update(
                    status=SourceFeedback.Status.DELIVERED,
                    delivered_at=now,
                    attempts=attempts,
                    last_status_code=code,
                    last_error="",
                )
                log.info("source feedback: %s rows delivered to %s", len(ids), url)
            else:
                gave_up = attempts >= settings.UPSTREAM_MAX_ATTEMPTS
                SourceFeedback.objects.filter(pk__in=ids).update(
                    status=SourceFeedback.Status.FAILED if gave_up else SourceFeedback.Status.PENDING,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts),
                    last_status_code=code,
                    last_error=error or f"HTTP {code}",
                )
                log.warning("source feedback to %s failed (attempt %s): %s", url, attempts, error or code)
    return len(rows)


def feedback_send(*, now: datetime | None = None, limit: int = 500, max_rounds: int = 100) -> int:
    total = 0
    for _round in range(max_rounds):
        claimed = feedback_send_step(now=now, limit=limit)
        total += claimed
        if claimed < limit:
            break
    return total
