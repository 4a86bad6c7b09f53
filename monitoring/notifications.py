"""How monitoring alerts read in the staff inbox and in their SMS / e-mail: the renderer of the
"monitoring" notifications (tasks.notify.register_renderer, registered in MonitoringConfig.ready()).

The text names the period (M<id>), the village and the day, never the person: an SMS or an e-mail leaves
the system, and the inbox links to the task, where the name is shown to those allowed to see it. The
sweep tells a recipient of a step's misses of one kind and day in one digest (`count` people, the place
that holds them): it links to the sub-unit's "due today" list or to the desk's alerts.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from .models import MonitoringAlertKind

# Kinds whose digest leads to the sub-unit's "due today" list; the others are the desk's alerts.
_FIELD_KINDS = (
    MonitoringAlertKind.CHECKIN_REMINDER,
    MonitoringAlertKind.CHECKIN_LEADER,
    MonitoringAlertKind.SAMPLE_OVERDUE,
)


def link(notification) -> str | None:
    """Where a digest of several people leads (a notification of one person leads to its task)."""
    data = notification.data or {}
    if not data.get("count"):
        return None
    if data.get("alert") in _FIELD_KINDS:
        return reverse("field_monitoring")
    return reverse("monitoring_alerts")


def _render_digest(data: dict, kind: str) -> tuple[str, str]:
    values = {
        "count": data.get("count", ""),
        "place": data.get("place") or data.get("division", ""),
        "day": data.get("day", ""),
        "hours": settings.CHECKIN_GRACE_HOURS,
    }
    if kind == MonitoringAlertKind.CHECKIN_REMINDER:
        subject = _("Check-ins due: %(count)s people in %(place)s") % values
        body = _("%(count)s people in %(place)s have not checked in for %(day)s by the due hour.") % values
    elif kind == MonitoringAlertKind.CHECKIN_LEADER:
        subject = _("Check-ins still missing: %(count)s people in %(place)s") % values
        body = _("%(count)s people in %(place)s are %(hours)s hours past the due hour of %(day)s.") % values
    elif kind == MonitoringAlertKind.CHECKIN_DESK:
        subject = _("Check-ins missed: %(count)s people in %(place)s") % values
        body = _("%(count)s people in %(place)s missed the check-in of %(day)s.") % values
    elif kind == MonitoringAlertKind.LOST_CONTACT:
        subject = _("Lost contact: %(count)s people in %(place)s") % values
        body = _("%(count)s people in %(place)s lost contact with the check-in of %(day)s.") % values
    elif kind == MonitoringAlertKind.SAMPLE_OVERDUE:
        subject = _("Samples overdue: %(count)s people in %(place)s") % values
        body = _("The samples of %(count)s people in %(place)s due on %(day)s have not been taken.") % values
    else:
        values["label"] = (
            MonitoringAlertKind(kind).label if kind in MonitoringAlertKind.values else _("monitoring alert")
        )
        subject = _("%(label)s: %(count)s people in %(place)s") % values
        body = _("%(label)s: %(count)s people in %(place)s, %(day)s.") % values
    return subject, body


def render(notification) -> tuple[str, str]:
    data = notification.data or {}
    kind = data.get("alert", "")
    if data.get("count"):
        return _render_digest(data, kind)
    values = {
        "period": f"M{data.get('period', '')}",
        "place": data.get("place") or data.get("division", ""),
        "day": data.get("day", ""),
        "hours": settings.CHECKIN_GRACE_HOURS,
        "misses": data.get("misses", ""),
    }
    if kind == MonitoringAlertKind.CHECKIN_REMINDER:
        subject = _("Check-in due: %(period)s") % values
        body = (
            _("The check-in of %(day)s of %(period)s (%(place)s) has not come in by the due hour.") % values
        )
    elif kind == MonitoringAlertKind.CHECKIN_LEADER:
        subject = _("Check-in still missing: %(period)s") % values
        body = (
            _("The check-in of %(day)s of %(period)s (%(place)s) is %(hours)s hours past the due hour.")
            % values
        )
    elif kind == MonitoringAlertKind.CHECKIN_DESK:
        subject = _("Check-in missed: %(period)s") % values
        body = _("%(period)s (%(place)s) missed the check-in of %(day)s.") % values
    elif kind == MonitoringAlertKind.LOST_CONTACT:
        subject = _("Lost contact: %(period)s") % values
        body = _("%(period)s (%(place)s) missed %(misses)s check-ins in a row, the last on %(day)s.") % values
    elif kind == MonitoringAlertKind.SAMPLE_OVERDUE:
        subject = _("Sample overdue: %(period)s") % values
        body = _("The sample of %(period)s (%(place)s) due on %(day)s has not been taken.") % values
    else:
        label = (
            MonitoringAlertKind(kind).label if kind in MonitoringAlertKind.values else _("monitoring alert")
        )
        values["label"] = label
        subject = _("%(label)s: %(period)s") % values
        body = _("%(label)s: %(period)s (%(place)s), %(day)s.") % values
    return subject, body
