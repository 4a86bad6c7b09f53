"""How monitoring alerts read in the staff inbox and in their SMS / e-mail: the renderer of the
"monitoring" notifications (tasks.notify.register_renderer, registered in MonitoringConfig.ready()).

The text names the period (M<id>), the village and the day, never the person: an SMS or an e-mail leaves
the system, and the inbox links to the period, where the name is shown to those allowed to see it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from .models import MonitoringAlertKind


def render(notification) -> tuple[str, str]:
    data = notification.data or {}
    kind = data.get("alert", "")
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
