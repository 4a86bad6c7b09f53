"""`python manage.py find_duplicates [--now ISO8601]`: the likely-duplicate job, once (the nightly beat
job runs the same function; tasks/duplicates.py)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.duplicates import find_duplicates
from tracing_center.commands import parse_now


class Command(BaseCommand):
    help = "Propose pairs of open persons that may be one person, for the duty officers to review."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="record the pairs as found at this ISO 8601 time")

    def handle(self, *args, now=None, **options):
        result = find_duplicates(now=parse_now(now) if now else timezone.now())
        if not result.ran:
            self.stdout.write("Another run holds the lock; nothing done.")
            return
        self.stdout.write(
            f"Likely duplicates: {result.proposed} new pairs ({result.pinyin_filled} name sounds computed)."
        )
