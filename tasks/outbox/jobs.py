"""The outbox's generic Celery job: `tasks.outbox_deliver` with a flow name delivers that flow's due
rows. A new flow schedules it in CELERY_BEAT_SCHEDULE ({"task": "tasks.outbox_deliver", "args":
["<flow>"]}); the two older flows keep their own jobs (tasks.deliver_notifications,
notices.notices_deliver), which run the same step."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from .delivery import deliver_pending


@shared_task(
    name="tasks.outbox_deliver",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=3,
)
def outbox_deliver(flow: str) -> int:
    return deliver_pending(flow)
