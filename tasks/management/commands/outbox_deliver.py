"""`python manage.py outbox_deliver [--flow NAME] [--now ISO8601] [--limit N]`: send the due pending
messages of one outbox flow (or of every registered flow), once (tasks/outbox/, docs/outbox.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tasks.outbox import deliver_pending, flows
from tracing_center.commands import parse_now


class Command(BaseCommand):
    help = "Send the pending outbound messages (staff notifications, notice SMS, …) once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--flow", help="one flow (default: every registered flow)")
        parser.add_argument("--now", help="act as of this ISO 8601 time")
        parser.add_argument("--limit", type=int, default=100, help="rows per step")

    def handle(
        self, *args: Any, flow: str | None = None, now: str | None = None, limit: int = 100, **options: Any
    ) -> None:
        registered = flows()
        if flow is not None and flow not in registered:
            raise CommandError(f"unknown flow {flow!r}; registered: {', '.join(sorted(registered))}")
        moment = parse_now(now) if now else timezone.now()
        for name in [flow] if flow else sorted(registered):
            count = deliver_pending(name, now=moment, limit=limit)
            self.stdout.write(f"{name}: {count} handled.")
