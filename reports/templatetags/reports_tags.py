from datetime import datetime

from django import template

register = template.Library()


@register.filter
def when(value):
    """An ISO date-time from a report snapshot as `2026-11-21 09:00` (local time as stored)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value
