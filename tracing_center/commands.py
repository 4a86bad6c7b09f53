"""What the periodic-job commands share: `--now ISO8601` (evaluate as of that moment, for drills,
audits and tests), read in TIME_ZONE when it has no offset."""

from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone


def parse_now(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--now {value!r} is not an ISO 8601 date and time (e.g. 2024-05-01T10:30:00+08:00)"
        ) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
