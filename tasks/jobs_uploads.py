"""Celery jobs of large lead uploads (tasks/uploads.py); imported by tasks/tasks.py for autodiscovery.
Each runs once per job whatever the deliveries: it claims the job's state first."""

from celery import shared_task

from .uploads import run_import, run_preview

__all__ = ["import_upload", "preview_upload"]


@shared_task(name="tasks.preview_upload", ignore_result=True)
def preview_upload(job_id: int) -> None:
    run_preview(job_id)


@shared_task(name="tasks.import_upload", ignore_result=True)
def import_upload(job_id: int) -> None:
    run_import(job_id)
