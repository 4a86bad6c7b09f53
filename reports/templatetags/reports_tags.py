from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value):
    """An ISO date-time from a report snapshot as `2026-11-21 09:00` (local time as stored)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = timezone.localtime(moment)  # Asia/Shanghai, whatever offset the value was written with
    return moment.strftime("%Y-%m-%d %H:%M")


@register.filter
def status_label(value):
    """A task status stored in a report snapshot (`radius_limited`) as the reader's words."""
    from tasks.models import TaskStatus

    if value in TaskStatus.values:
        return TaskStatus(value).label
    return value or "—"
