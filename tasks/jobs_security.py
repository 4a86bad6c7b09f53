"""Celery job of issue 9 (thin; registered by TasksConfig.ready, scheduled in tracing_center/celery.py).

* `tasks.purge_personal_data` — beat, nightly at RETENTION_HOUR: the retention purge. Safe to run twice
  at once (advisory lock); a run that finds the lock taken does nothing.
* `tasks.check_integrity` — beat, nightly: the links without a database constraint (tasks/integrity.py);
  read-only, logs an error per broken link.
* `tasks.find_duplicates` — beat, nightly: likely duplicates among the open persons (tasks/duplicates.py);
  idempotent, and an advisory lock keeps two runs from overlapping.
"""

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="tasks.purge_personal_data",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
)
def purge_personal_data_job():
    from .retention import purge_personal_data

    run = purge_personal_data(triggered_by="beat")
    return None if run is None else {"run": run.pk, "persons": run.persons}


@shared_task(name="tasks.check_integrity", ignore_result=True)
def check_integrity_job():
    from .integrity import check_integrity

    return {orphans.link: orphans.count for orphans in check_integrity()}


@shared_task(name="tasks.find_duplicates", ignore_result=True)
def find_duplicates_job():
    from .duplicates import find_duplicates

    result = find_duplicates()
    return {"ran": result.ran, "proposed": result.proposed}
