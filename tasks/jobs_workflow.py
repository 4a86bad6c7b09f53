"""Celery jobs of issue 4 (thin: each calls a step function; imported by tasks/tasks.py for autodiscovery).

* `tasks.sweep_deadlines` — beat, every minute: the deadline sweep and the clock sweeps registered by
  the apps built on tasks (tasks/hooks.py); when they queued deliveries, it enqueues a delivery run.
* `tasks.deliver_notifications` — beat, every 20 s, and on demand: sends pending SMS / e-mail rows.
Both are safe to run twice at once (SKIP LOCKED claims, unique escalations).
"""

from celery import shared_task
from django.utils import timezone

from tracing_center.enqueue import enqueue_on_commit

from . import hooks
from .notify import deliver_pending
from .sweep import sweep

__all__ = ["deliver_notifications", "sweep_deadlines"]


@shared_task(name="tasks.sweep_deadlines", ignore_result=True)
def sweep_deadlines():
    now = timezone.now()
    result = sweep(now=now)
    others = hooks.run_clock_sweeps(now)
    if result.deliveries or any(counts.get("deliveries") for counts in others.values()):
        enqueue_on_commit(deliver_notifications)
    return {
        "tasks": result.tasks,
        "escalations": result.escalations,
        "notifications": result.notifications,
        **others,
    }


@shared_task(
    name="tasks.deliver_notifications",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def deliver_notifications():
    return deliver_pending()
