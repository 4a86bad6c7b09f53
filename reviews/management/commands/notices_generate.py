"""`python manage.py notices_generate [--now ISO8601]`: Generate notices from approved disposal proposals once (the same loop as the Celery beat job
reviews.notices_generate, reviews/tasks.py)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


def parse_now(value):
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now {value!r} is not an ISO 8601 date and time") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Generate notices from approved disposal proposals"

    def add_arguments(self, parser):
        parser.add_argument("--now", help="act as of this ISO 8601 time")
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args, now=None, limit=1000, **options):
        from reviews.notices import notices_generate_from_proposals
        from reviews.tasks import run_loop

        moment = parse_now(now) if now else timezone.now()
        count = run_loop(notices_generate_from_proposals, now=moment, limit=limit)
        self.stdout.write(f"{count} handled.")
