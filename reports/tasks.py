"""Celery tasks of reports (thin: ids in, a service call, retries with backoff)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="reports.push_delivery", bind=True, max_retries=None, acks_late=True)
def push_delivery(self, delivery_id: int):
    """Push one report version to one upstream; retried with exponential backoff until acknowledged
    (the resend beat job below picks up anything whose retry message was lost)."""
    status = services.delivery_attempt(delivery_id=delivery_id)
    if status == "pending":
        from .models import UpstreamDelivery

        attempts = (
            UpstreamDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 1
        )
        raise self.retry(countdown=services.backoff(attempts).total_seconds())
    return status


@shared_task(name="reports.resend_due_deliveries")
def resend_due_deliveries():
    for delivery_id in services.due_deliveries():
        services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="reports.refresh_report")
def refresh_report(task_id: int):
    services.report_refresh(task_id=task_id)


@shared_task(name="reports.send_source_feedback")
def send_source_feedback():
    """Kept for messages queued under the old name; the beat runs `tasks.outbox_deliver`
    ("source_feedback"), the same step."""
    from .feedback import feedback_send

    return feedback_send()
