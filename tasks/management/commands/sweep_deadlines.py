"""`python manage.py sweep_deadlines [--now ISO8601] [--deliver]`: the deadline sweep, once, with the
clocks the apps built on tasks register (check-ins, supervision orders: tasks/hooks.py).

The same step function as the Celery beat job (tasks/sweep.py). `--now` evaluates the clocks as of that
moment (drills, audits; a time without offset is read in TIME_ZONE). `--deliver` also sends the pending
SMS / e-mail deliveries afterwards.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.hooks import run_clock_sweeps
from tasks.notify import deliver_pending
from tasks.sweep import DEFAULT_LIMIT, sweep
from tracing_center.commands import parse_now


class Command(BaseCommand):
    help = "Record the clock warnings and breaches that are due, and notify (the every-minute sweep)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="evaluate as of this ISO 8601 time instead of the current time")
        parser.add_argument(
            "--deliver", action="store_true", help="also send pending SMS / e-mail deliveries"
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"tasks per transaction (default {DEFAULT_LIMIT})",
        )

    def handle(self, *args, now=None, deliver=False, limit=DEFAULT_LIMIT, **options):
        moment = parse_now(now) if now else timezone.now()
        result = sweep(now=moment, limit=limit)
        self.stdout.write(
            f"Swept as of {timezone.localtime(moment).isoformat()}: {result.tasks} tasks due, "
            f"{result.escalations} escalations, {result.notifications} notifications, {result.deliveries} deliveries queued."
        )
        for name, counts in run_clock_sweeps(moment).items():
            summary = ", ".join(f"{count} {label}" for label, count in counts.items()) or "nothing due"
            self.stdout.write(f"{name}: {summary}.")
        if deliver:
            sent = deliver_pending(now=moment)
            self.stdout.write(f"Deliveries attempted: {sent}.")
