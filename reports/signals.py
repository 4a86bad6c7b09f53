"""Receivers (connected in reports/apps.py): they route to services only."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)

APPROVED_STATES = ("approved", "reported", "closed")


def on_review_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    """An approval (reviews.services.review_approve saves the decided review) freezes a new version, in
    the approval's transaction."""
    if raw or instance.state != "decided" or instance.decision != "approve":
        return
    if update_fields is not None and "decision" not in update_fields:
        return
    from .models import ReportVersion
    from .services import report_version_create

    if ReportVersion.objects.filter(review=instance).exists():
        return
    report_version_create(
        task=instance.task, reason=ReportVersion.Reason.APPROVAL, review=instance, now=instance.decided_at
    )


def on_report_data_changed(sender, instance, raw=False, **kwargs):
    """A field record of an approved task changed: after commit, a new version if the report differs."""
    if raw:
        return
    task_id = getattr(instance, "task_id", None)
    if task_id is None:
        return
    from tasks.models import TracingTask

    from .models import ReportVersion

    if not ReportVersion.objects.filter(task_id=task_id).exists():
        return
    if not TracingTask.objects.filter(pk=task_id, status__in=APPROVED_STATES).exists():
        return

    def refresh():  # idempotent: a new version only when the snapshot differs
        from .services import report_refresh

        try:
            report_refresh(task_id=task_id)
        except Exception:  # the field edit is committed; a report that could not be frozen must not fail it
            logger.exception("report version of task %s after a change could not be made", task_id)

    transaction.on_commit(refresh)
