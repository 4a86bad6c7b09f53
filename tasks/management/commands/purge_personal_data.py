"""Anonymise the personal data whose retention period ended (tasks/retention.py). The nightly Celery
beat job `tasks.purge_personal_data` runs the same service."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.retention import purge_personal_data
from tracing_center.commands import parse_now


class Command(BaseCommand):
    help = "Anonymise persons whose tasks all ended more than RETENTION_DAYS ago (legal holds excepted)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="the moment to compute the cut-off from (ISO 8601); default: now")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be purged, change nothing"
        )

    def handle(self, *args, now=None, dry_run=False, **options):
        moment = parse_now(now) if now else None
        run = purge_personal_data(now=moment, dry_run=dry_run, triggered_by="command")
        if run is None:
            self.stdout.write("Another purge is running; nothing done.")
            return
        if dry_run:  # a dry run counts the persons and the rejected rows only
            done = f"Would anonymise {run.persons} persons; {run.rejections} rejected intake rows to delete"
        else:
            done = (
                f"Anonymised {run.persons} persons ({run.leads} leads, {run.tasks} tasks, {run.log_entries} history "
                f"entries, {run.field_records} field records, {run.report_versions} report versions, {run.notices} "
                f"notices and feedback); {run.rejections} rejected intake rows deleted"
            )
        self.stdout.write(
            f"{done}; cut-off {timezone.localtime(run.cutoff):%Y-%m-%d %H:%M:%S}; {run.held} kept by a legal hold. "
            f"Run #{run.pk}."
        )
