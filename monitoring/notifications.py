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
from django.utils.translation import gettext_noop

from .models import MonitoringAlertKind as Kind

# Kinds whose digest leads to the sub-unit's "due today" list; the others are the desk's alerts.
_FIELD_KINDS = (
    Kind.CHECKIN_REMINDER,
    Kind.CHECKIN_LEADER,
    Kind.SAMPLE_OVERDUE,
)


def link(notification) -> str | None:
    """Where a digest of several people leads (a notification of one person leads to its task)."""
    data = notification.data or {}
    if not data.get("count"):
        return None
    if data.get("alert") in _FIELD_KINDS:
        return reverse("field_monitoring")
    return reverse("monitoring_alerts")


# (subject, body) of each kind of alert: for one person (the period M<id>), and for a digest of several
# (`count` people in `place`). Marked for translation here, translated when rendered.
_TEXTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    Kind.CHECKIN_REMINDER: (
        (
            gettext_noop("Check-in due: %(period)s"),
            gettext_noop(
                "The check-in of %(day)s of %(period)s (%(place)s) has not come in by the due hour."
            ),
        ),
        (
            gettext_noop("Check-ins due: %(count)s people in %(place)s"),
            gettext_noop("%(count)s people in %(place)s have not checked in for %(day)s by the due hour."),
        ),
    ),
    Kind.CHECKIN_LEADER: (
        (
            gettext_noop("Check-in still missing: %(period)s"),
            gettext_noop(
                "The check-in of %(day)s of %(period)s (%(place)s) is %(hours)s hours past the due hour."
            ),
        ),
        (
            gettext_noop("Check-ins still missing: %(count)s people in %(place)s"),
            gettext_noop("%(count)s people in %(place)s are %(hours)s hours past the due hour of %(day)s."),
        ),
    ),
    Kind.CHECKIN_DESK: (
        (
            gettext_noop("Check-in missed: %(period)s"),
            gettext_noop("%(period)s (%(place)s) missed the check-in of %(day)s."),
        ),
        (
            gettext_noop("Check-ins missed: %(count)s people in %(place)s"),
            gettext_noop("%(count)s people in %(place)s missed the check-in of %(day)s."),
        ),
    ),
    Kind.LOST_CONTACT: (
        (
            gettext_noop("Lost contact: %(period)s"),
            gettext_noop("%(period)s (%(place)s) missed %(misses)s check-ins in a row, the last on %(day)s."),
        ),
        (
            gettext_noop("Lost contact: %(count)s people in %(place)s"),
            gettext_noop("%(count)s people in %(place)s lost contact with the check-in of %(day)s."),
        ),
    ),
    Kind.SAMPLE_OVERDUE: (
        (
            gettext_noop("Sample overdue: %(period)s"),
            gettext_noop("The sample of %(period)s (%(place)s) due on %(day)s has not been taken."),
        ),
        (
            gettext_noop("Samples overdue: %(count)s people in %(place)s"),
            gettext_noop("The samples of %(count)s people in %(place)s due on %(day)s have not been taken."),
        ),
    ),
}
# Any other kind: named by its label.
_LABELLED = (
    (gettext_noop("%(label)s: %(period)s"), gettext_noop("%(label)s: %(period)s (%(place)s), %(day)s.")),
    (
        gettext_noop("%(label)s: %(count)s people in %(place)s"),
        gettext_noop("%(label)s: %(count)s people in %(place)s, %(day)s."),
    ),
)


def render(notification) -> tuple[str, str]:
    data = notification.data or {}
    kind = data.get("alert", "")
    digest = bool(data.get("count"))
    values = {
        "period": f"M{data.get('period', '')}",
        "count": data.get("count", ""),
        "place": data.get("place") or data.get("division", ""),
        "day": data.get("day", ""),
        "hours": settings.CHECKIN_GRACE_HOURS,
        "misses": data.get("misses", ""),
        "label": Kind(kind).label if kind in Kind.values else _("monitoring alert"),
    }
    subject, body = _TEXTS.get(kind, _LABELLED)[digest]
    return _(subject) % values, _(body) % values
