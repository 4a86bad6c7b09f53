"""Celery tasks of notices: thin wrappers looping the step functions (declared in CELERY_BEAT_SCHEDULE
in tracing_center/settings.py; the same loops are the notices_* management commands)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import shared_task
from django.db import OperationalError


def run_loop(
    step: Callable[..., int], *, now: datetime | None = None, limit: int, max_rounds: int = 100
) -> int:
    """Call `step` until it finds less than a full batch. Every step is safe to run twice at once."""
    total = 0
    for _round in range(max_rounds):
        found = step(now=now, limit=limit)
        total += found
        if found < limit:
            break
    return total


@shared_task(
    name="notices.notices_generate", autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3
)
def notices_generate() -> int:
    from .services.generation import notices_generate_from_proposals

    return run_loop(notices_generate_from_proposals, limit=1000)


@shared_task(name="notices.notices_push", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3)
def notices_push() -> int:
    from .services.push import push_step

    return run_loop(push_step, limit=200)


@shared_task(
    name="notices.notices_deliver", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3
)
def notices_deliver() -> int:
    from .delivery import deliver_step

    return run_loop(deliver_step, limit=100)


@shared_task(
    name="notices.notices_remind", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3
)
def notices_remind() -> int:
    from .services.push import remind_step

    return run_loop(remind_step, limit=500)
