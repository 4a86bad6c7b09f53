"""Celery tasks of the tasks app: thin wrappers that call a service (STYLE: thin Celery tasks)."""

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="tasks.run_intake",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=3,
    # A tick that waited in the queue past the next tick is pointless: the next one takes everything.
    expires=60 * 9,
)
def run_intake() -> int | None:
    """The 10-minute intake batch (declared in tracing_center/celery.py). Returns the batch id, or None
    when nothing was pending or another run held the intake lock. Safe to run twice at once."""
    from .intake import intake_run

    batch = intake_run()
    return batch.id if batch else None


from .jobs_uploads import *  # noqa: E402, F403  (large lead uploads: preview and import jobs)
from .jobs_workflow import *  # noqa: E402, F403  (issue 4: sweep_deadlines, deliver_notifications)
