"""`python manage.py notices_remind [--now ISO8601]`: Send reminders and create sub-unit follow-ups once (the same loop as the Celery beat job
reviews.notices_remind, reviews/tasks.py)."""

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
    help = "Send reminders and create sub-unit follow-ups"

    def add_arguments(self, parser):
        parser.add_argument("--now", help="act as of this ISO 8601 time")
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, now=None, limit=500, **options):
        from reviews.notices import remind_step
        from reviews.tasks import run_loop

        moment = parse_now(now) if now else timezone.now()
        count = run_loop(remind_step, now=moment, limit=limit)
        self.stdout.write(f"{count} handled.")
