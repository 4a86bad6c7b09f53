from django.core.management.base import BaseCommand

from tasks.intake import intake_run


class Command(BaseCommand):
    help = (
        "Consolidate all pending leads into one intake batch now (the same step the Celery beat runs "
        "every INTAKE_INTERVAL_MINUTES minutes). Safe to run while another run is in progress: it then "
        "does nothing."
    )

    def handle(self, *args, verbosity, **options):
        batch = intake_run()
        if batch is None:
            self.stdout.write("Nothing to do: no pending leads, or another intake run is in progress.")
            return
        seconds = (batch.finished_at - batch.started_at).total_seconds() if batch.finished_at else 0
        self.stdout.write(
            f"Batch #{batch.id}: {batch.leads} leads → {batch.new_tasks} new tasks "
            f"({batch.unresolved} without a village), {batch.merged} merged into open tasks, "
            f"{batch.dispatched} dispatched; {seconds:.1f} s."
        )
        if batch.error:
            self.stderr.write(batch.error)
