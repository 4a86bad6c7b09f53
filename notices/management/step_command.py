"""The notice jobs as commands: each runs the same loop of its step function as its Celery beat job
(notices/tasks.py), once, optionally as of `--now`."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.module_loading import import_string

from tracing_center.commands import parse_now


class StepCommand(BaseCommand):
    step: str  # dotted path of the step function
    default_limit: int

    def add_arguments(self, parser):
        parser.add_argument("--now", help="act as of this ISO 8601 time")
        parser.add_argument("--limit", type=int, default=self.default_limit, help="rows per step")

    def handle(self, *args, now=None, limit=None, **options):
        from notices.tasks import run_loop

        moment = parse_now(now) if now else timezone.now()
        count = run_loop(import_string(self.step), now=moment, limit=limit or self.default_limit)
        self.stdout.write(f"{count} handled.")
