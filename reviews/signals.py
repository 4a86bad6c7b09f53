"""Receivers connected in reviews/apps.py. They only route to services (STYLE: no rules in signals)."""

from __future__ import annotations

from tasks.models import TaskStatus


def on_task_transition(sender, instance, created, raw=False, **kwargs):
    """A submission opens a review (in the same transaction as the submission, so the queue entry and
    its findings exist exactly when the task is submitted). A task leaving `submitted` by any move other
    than a review decision (a cancellation) withdraws its open review."""
    if not created or raw:
        return
    from . import services

    if instance.to_status == TaskStatus.SUBMITTED and instance.from_status != TaskStatus.SUBMITTED:
        services.review_open(submission=instance)
    elif instance.from_status == TaskStatus.SUBMITTED and instance.to_status not in (
        TaskStatus.SUBMITTED,
        TaskStatus.RETURNED,
        TaskStatus.APPROVED,
    ):
        services.review_withdraw_for_task(task_id=instance.task_id)
