"""`python manage.py monitoring_start_periods [--now ISO8601]`: start the monitoring period (and the
test schedule's samples) of every approved disposal with a measure not yet applied. Idempotent: a
second run starts nothing. The same step runs with the every-minute clock sweep."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from monitoring.services.periods import catch_up
from tracing_center.commands import parse_now


class Command(BaseCommand):
    help = "Start the monitoring periods of approved disposals not yet applied (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="as of this ISO 8601 time instead of the current time")

    def handle(self, *args, now=None, **options):
        moment = parse_now(now) if now else timezone.now()
        counts = catch_up(now=moment)
        self.stdout.write(
            f"Periods started: {counts['started']}, extended: {counts['extended']}, "
            f"samples due: {counts['samples']}."
        )
