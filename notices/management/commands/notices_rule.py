"""`python manage.py notices_rule returnees_from_area --area 4201 --since 2026-11-15`: run a batch rule
(notices/rules.py BATCH_RULES) over a set of persons; the notices go to the county desks."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class Command(BaseCommand):
    help = "Run a notice batch rule (e.g. all returnees from a designated area)."

    def add_arguments(self, parser):
        parser.add_argument("rule")
        parser.add_argument("--area", required=True, help="division code of the designated area")
        parser.add_argument("--since", required=True, help="ISO date or date-time: leads reported since")

    def handle(self, *args, rule, area, since, **options):
        from notices.services.generation import notices_generate_for_rule

        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            raise CommandError(f"--since {since!r} is not ISO 8601") from None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        count = notices_generate_for_rule(rule=rule, area_code=area, since=moment)
        self.stdout.write(f"{count} notices created.")
