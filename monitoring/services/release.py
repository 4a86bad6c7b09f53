"""Release (解除): the end of a person's monitoring.

Allowed at or after the period's last day (local time), when every scheduled sample is done and
negative and no abnormality is open. The sub-unit (field staff, team leaders) releases, inside its
territory; the linked task closes with the outcome "released" (tasks/worktypes.py
`task_close_released`) and the apps built on monitoring hear of it (monitoring.hooks.released: the
notices app may push the person a release notice), all in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.roles import can
from tasks.selectors import in_scope

from .. import hooks
from ..clock import local_day
from ..models import MonitoringPeriod, PeriodState, SampleDue, SampleState
from ..models.periods import OPEN_STATES


class ReleaseRefused(ValidationError):
    """The period cannot be released yet; `reasons` says every reason at once (the API answers 409)."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__({"release": reasons}, code="release_refused")


def release_blockers(period: MonitoringPeriod, *, now: datetime) -> list[str]:
    """Why `period` cannot be released at `now` (empty: it can)."""
    reasons: list[str] = []
    if period.state == PeriodState.RELEASED:
        return [_("The person was already released.")]
    if period.state == PeriodState.LOST_CONTACT:
        reasons.append(_("The person is lost contact: a check-in must come first."))
    elif period.state not in OPEN_STATES:
        reasons.append(_("The monitoring is not running."))
    today = local_day(now)
    if today < period.ends_on:
        reasons.append(
            _("The monitoring runs until %(day)s: release is possible from that day on.")
            % {"day": period.ends_on.isoformat()}
        )
    samples = list(
        SampleDue.objects.filter(period=period).exclude(state=SampleState.CANCELLED).order_by("due_on")
    )
    pending = [s for s in samples if s.state == SampleState.DUE]
    if pending:
        reasons.append(
            _("Samples not done yet: day %(days)s of the test schedule.")
            % {"days": ", ".join(str(s.schedule_day) for s in pending)}
        )
    not_negative = [s for s in samples if s.state == SampleState.DONE and s.result != "negative"]
    if not_negative:
        reasons.append(
            _("Samples without a negative result: day %(days)s of the test schedule.")
            % {"days": ", ".join(f"{s.schedule_day} ({s.result or '?'})" for s in not_negative)}
        )
    if period.abnormal_open:
        reasons.append(_("An abnormal check-in or a positive result is still open."))
    return reasons


def may_release(user, period: MonitoringPeriod) -> bool:
    return can(user, "task.fieldwork") and in_scope(user, period.division_id)


@transaction.atomic
def release_period(
    period: MonitoringPeriod | int,
    *,
    by,
    now: datetime | None = None,
    note: str = "",
    notify_person: bool = True,
) -> MonitoringPeriod:
    """Release the person. Raises PermissionDenied (role or territory) or ReleaseRefused (every reason
    it cannot be done yet)."""
    from tasks.worktypes import task_close_released

    now = now or timezone.now()
    period_id = period.pk if isinstance(period, MonitoringPeriod) else int(period)
    locked = MonitoringPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if not may_release(by, locked):
        raise PermissionDenied(_("Only the sub-unit and team leaders of the territory release a person."))
    reasons = release_blockers(locked, now=now)
    if reasons:
        raise ReleaseRefused(reasons)
    note = str(note or "").strip()[:2000]
    locked.state = PeriodState.RELEASED
    locked.state_changed_at = now
    locked.released_at = now
    locked.released_by = by
    locked.due_day = None
    locked.next_due_at = None
    locked.updated_at = now
    fields = [
        "state",
        "state_changed_at",
        "released_at",
        "released_by",
        "due_day",
        "next_due_at",
        "updated_at",
    ]
    if note:
        locked.note = f"{locked.note}\n{note}".strip()
        fields.append("note")
    locked.save(update_fields=fields)
    if locked.task is not None:
        task_close_released(
            task=locked.task, actor=by, note=note or _("Released from health monitoring"), now=now
        )
    hooks.released([locked.pk], now=now, notify_person=notify_person)
    return locked
