"""Anonymise the personal data whose retention period ended (tasks/retention.py). The nightly Celery
beat job `tasks.purge_personal_data` runs the same service."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tasks.retention import purge_personal_data


class Command(BaseCommand):
    help = "Anonymise persons whose tasks all ended more than RETENTION_DAYS ago (legal holds excepted)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="the moment to compute the cut-off from (ISO 8601); default: now")
        parser.add_argument("--dry-run", action="store_true", help="count what would be purged, change nothing")

    def handle(self, *args, now=None, dry_run=False, **options):
        moment = None
        if now:
            try:
                moment = datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now {now!r} is not an ISO 8601 date-time, e.g. 2026-11-01T03:00:00+08:00") from None
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        run = purge_personal_data(now=moment, dry_run=dry_run, triggered_by="command")
        if run is None:
            self.stdout.write("Another purge is running; nothing done.")
            return
        verb = "Would anonymise" if dry_run else "Anonymised"
        self.stdout.write(
            f"{verb} {run.persons} persons ({run.leads} leads, {run.tasks} tasks, {run.log_entries} history entries); "
            f"cut-off {timezone.localtime(run.cutoff):%Y-%m-%d %H:%M:%S}; {run.held} kept by a legal hold. Run #{run.pk}."
        )
