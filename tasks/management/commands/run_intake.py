from django.core.management.base import BaseCommand
from django.db import connection

from tasks.intake import INTAKE_LOCK_KEY, intake_run


def intake_lock_holder() -> tuple[int, str, str] | None:
    """(pid, state, since) of the backend holding the intake's advisory lock, else None.

    A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.pid, coalesce(a.state, '?'), coalesce(to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?')
              FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                       SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid = %s AND l.objid = %s AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
             LIMIT 1
            """,
            [INTAKE_LOCK_KEY >> 32, INTAKE_LOCK_KEY & 0xFFFFFFFF],
        )
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row else None


class Command(BaseCommand):
    help = (
        "Consolidate all pending leads into one intake batch now (the same step the Celery beat runs "
        "every INTAKE_INTERVAL_MINUTES minutes). Safe to run while another run is in progress: it then "
        "does nothing and says which backend holds the lock."
    )

    def handle(self, *args, verbosity, **options):
        batch = intake_run()
        if batch is None:
            holder = intake_lock_holder()
            if holder is not None:
                pid, state, since = holder
                self.stdout.write(
                    f"Nothing done: another intake run holds the lock (database backend pid {pid}, "
                    f"{state}, transaction since {since}). A killed run's backend lets go when PostgreSQL "
                    f"notices the lost connection; or end it: SELECT pg_terminate_backend({pid});"
                )
            else:
                self.stdout.write("Nothing to do: no pending leads.")
            return
        seconds = (batch.finished_at - batch.started_at).total_seconds() if batch.finished_at else 0
        self.stdout.write(
            f"Batch #{batch.id}: {batch.leads} leads → {batch.new_tasks} new tasks "
            f"({batch.unresolved} without a village), {batch.merged} merged into open tasks, "
            f"{batch.dispatched} dispatched; {seconds:.1f} s."
        )
        if batch.error:
            self.stderr.write(batch.error)
