"""Readable words for identifiers the pages would otherwise show raw: lead columns in the reasons of a
rejected row, intake channels, task statuses and work types."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

LEAD_FIELDS = {
    "source": _("source"),
    "external_id": _("external id"),
    "id_number": _("ID number"),
    "name": _("name"),
    "phone": _("phone"),
    "division_code": _("division code"),
    "current_division_code": _("current division code"),
    "address": _("address"),
    "reason": _("reason"),
    "reported_at": _("reported at"),
    "related_task": _("related task"),
    "payload": _("other columns"),
    "row": _("row"),
    "file": _("file"),
    "non_field_errors": _("row"),
    "__all__": _("row"),
}
CHANNELS = {
    "api": _("API"),
    "file": _("file import"),
    "upload": _("upload"),
    "form": _("form"),
    "field": _("field team"),
    # Leads the monitoring app queues for a positive result or an abnormal check-in.
    "monitoring": _("health monitoring"),
}


@register.filter
def lead_field(value: str) -> str:
    return str(LEAD_FIELDS.get(value, value))


@register.filter
def channel_label(value: str) -> str:
    return str(CHANNELS.get(value, value))


@register.filter
def task_status(value: str) -> str:
    from tasks.models import TaskStatus

    return str(TaskStatus(value).label) if value in TaskStatus.values else value


@register.filter
def task_kind(value: str) -> str:
    from tasks.models import TaskKind

    return str(TaskKind(value).label) if value in TaskKind.values else value


# Columns of the staff file (account onboarding) and fields of an account's change history.
ACCOUNT_FIELDS = {
    "name": _("name"),
    "full_name": _("name"),
    "phone": _("work phone"),
    "role": _("role"),
    "division_code": _("division code"),
    "division": _("scope"),
    "username": _("username"),
    "is_active": _("active"),
    "second_factor": _("second factor"),
    "date_joined": _("created at"),
}


@register.filter
def staff_field(value: str) -> str:
    return str(ACCOUNT_FIELDS.get(value, value))
