"""Celery tasks of notices (issue 8): thin wrappers looping the step functions of reviews/notices.py
(declared in tracing_center/celery.py; the same loops are the notices_* management commands)."""

from celery import shared_task
from django.db import OperationalError


def run_loop(step, *, now=None, limit: int, max_rounds: int = 100) -> int:
    """Call `step` until it finds less than a full batch. Every step is safe to run twice at once."""
    total = 0
    for _round in range(max_rounds):
        found = step(now=now, limit=limit)
        total += found
        if found < limit:
            break
    return total


@shared_task(
    name="reviews.notices_generate", autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3
)
def notices_generate() -> int:
    from .notices import notices_generate_from_proposals

    return run_loop(notices_generate_from_proposals, limit=1000)


@shared_task(name="reviews.notices_push", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3)
def notices_push() -> int:
    from .notices import push_step

    return run_loop(push_step, limit=200)


@shared_task(
    name="reviews.notices_deliver", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3
)
def notices_deliver() -> int:
    from .notices import deliver_step

    return run_loop(deliver_step, limit=100)


@shared_task(
    name="reviews.notices_remind", autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3
)
def notices_remind() -> int:
    from .notices import remind_step

    return run_loop(remind_step, limit=500)
