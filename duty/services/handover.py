"""Shift handovers (交接班): at the end of a shift the outgoing officer writes a handover whose figures are
computed from the data of the shift's window and the desk's territory, adds notes, and the officer of
the next shift acknowledges it. The figures are frozen in `Handover.snapshot` (counts and ids), so the
record stays what was handed over whatever happens to the tasks afterwards.

What a handover contains is a registry of sections (`SECTIONS`, `register_section`): each is a name, a
label and a function computing {"count", "task_ids", "ids"} for a desk's territory over a window. Other
areas of the duty app add their own (supervision orders register an "open supervision orders" section
from their module) without this module importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from duty.models import Handover
from tasks.models import DutyShift, Escalation, TracingTask, Transfer
from tasks.roles import can
from tasks.selectors import in_scope
from tasks.watermark import watermark_text

from . import roster

# A snapshot keeps at most this many ids per section (the count is always the full count).
MAX_IDS = 500
# An officer may hand over up to this long before the shift's scheduled end (a shift change brought
# forward); never before the shift has started.
EARLY_HANDOVER = timedelta(hours=2)


class HandoverConflict(ValidationError):
    """The handover cannot be written or acknowledged in the current state (409)."""


@dataclass(frozen=True)
class Window:
    desk_code: str
    start: datetime
    end: datetime
    now: datetime


@dataclass(frozen=True)
class Section:
    name: str
    label: str | Promise
    compute: Callable[[Window], dict]


SECTIONS: dict[str, Section] = {}


def register_section(name: str, label, compute: Callable[[Window], dict]) -> None:
    """Add a section to every handover written from now on: `compute(window)` returns
    {"count": int, "task_ids": [...], "ids": [...]} for the desk's territory."""
    SECTIONS[name] = Section(name, label, compute)


def _result(ids: list, task_ids: list | None = None, count: int | None = None) -> dict:
    task_ids = task_ids if task_ids is not None else ids
    return {
        "count": count if count is not None else len(ids),
        "task_ids": sorted({t for t in task_ids if t is not None})[:MAX_IDS],
        "ids": sorted(ids)[:MAX_IDS],
    }


def _tasks(qs, window: Window, *, id_field: str = "pk", task_field: str = "task_id") -> dict:
    rows = list(qs.values_list(id_field, task_field)[: MAX_IDS * 4])
    count = qs.count() if len(rows) >= MAX_IDS * 4 else None
    ids = sorted({r[0] for r in rows})
    return _result(ids, [r[1] for r in rows], count if count is not None else len(ids))


def new_tasks(w: Window) -> dict:
    ids = list(
        TracingTask.objects.filter(
            division__code__startswith=w.desk_code, created_at__gte=w.start, created_at__lt=w.end
        ).values_list("pk", flat=True)
    )
    return _result(ids)


def breached_tasks(w: Window) -> dict:
    ids = list(
        Escalation.objects.filter(
            division__code__startswith=w.desk_code, level="breach", due_at__gte=w.start, due_at__lt=w.end
        )
        .values_list("task_id", flat=True)
        .distinct()
    )
    return _result(ids)


def transferred_tasks(w: Window) -> dict:
    from django.db.models import Q

    qs = Transfer.objects.filter(
        Q(from_division__code__startswith=w.desk_code) | Q(to_division__code__startswith=w.desk_code),
        requested_at__gte=w.start,
        requested_at__lt=w.end,
    )
    return _tasks(qs, w)


def lost_contact(w: Window) -> dict:
    from monitoring.models import MonitoringPeriod, PeriodState

    qs = MonitoringPeriod.objects.filter(
        division__code__startswith=w.desk_code, state=PeriodState.LOST_CONTACT
    )
    return _tasks(qs, w)


def abnormal_checkins(w: Window) -> dict:
    from monitoring.models import MonitoringAlert, MonitoringAlertKind

    qs = MonitoringAlert.objects.filter(
        period__division__code__startswith=w.desk_code,
        kind__in=[MonitoringAlertKind.ABNORMAL, MonitoringAlertKind.POSITIVE],
        created_at__gte=w.start,
        created_at__lt=w.end,
    )
    return _tasks(qs, w, task_field="period__task_id")


def pending_reviews(w: Window) -> dict:
    from reviews.models import OPEN_STATES, Review

    qs = Review.objects.filter(task__division__code__startswith=w.desk_code, state__in=OPEN_STATES)
    return _tasks(qs, w)


def notices_waiting(w: Window) -> dict:
    from notices.models import Notice, NoticeState

    waiting = [NoticeState.COUNTY_REVIEW, NoticeState.CITY_REVIEW, NoticeState.APPROVED]
    qs = Notice.objects.filter(division__code__startswith=w.desk_code, state__in=waiting)
    return _tasks(qs, w)


register_section("new_tasks", gettext_lazy("New tasks"), new_tasks)
register_section("breached_tasks", gettext_lazy("Breached tasks"), breached_tasks)
register_section("transferred_tasks", gettext_lazy("Transferred tasks"), transferred_tasks)
register_section("lost_contact", gettext_lazy("Lost contact (monitoring)"), lost_contact)
register_section("abnormal_checkins", gettext_lazy("Abnormal check-ins"), abnormal_checkins)
register_section("pending_reviews", gettext_lazy("Pending reviews"), pending_reviews)
register_section("notices_waiting", gettext_lazy("Notices waiting"), notices_waiting)


def snapshot(desk_code: str, start: datetime, end: datetime, now: datetime) -> dict:
    window = Window(desk_code, start, end, now)
    return {
        "generated_at": now.isoformat(),
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "sections": {name: section.compute(window) for name, section in SECTIONS.items()},
    }


def section_rows(handover: Handover) -> list[dict]:
    """The snapshot's sections in registry order, with labels (a section registered later than the
    handover was written is not shown; one no longer registered keeps its name as label)."""
    stored = (handover.snapshot or {}).get("sections", {})
    rows = []
    for name, data in stored.items():
        section = SECTIONS.get(name)
        rows.append({"name": name, "label": section.label if section else name, **data})
    order = list(SECTIONS)
    rows.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    return rows


def hand_over(*, actor, shift: DutyShift, notes: str = "", now: datetime | None = None) -> Handover:
    """Write the handover of `shift`. The shift's officer, or anyone who may edit the desk's roster."""
    now = now or timezone.now()
    if not (shift.user_id == actor.pk or roster.can_edit(actor, shift.unit)):
        raise PermissionDenied(
            _("Only the officer of this shift or a roster editor of the desk may hand it over.")
        )
    if now < shift.starts_at:
        raise HandoverConflict(_("This shift has not started yet."), code="not_started")
    if now < shift.ends_at - EARLY_HANDOVER:
        raise HandoverConflict(
            _("A shift can be handed over from two hours before its end."), code="too_early"
        )
    if len(notes or "") > 4000:
        raise ValidationError({"notes": [_("Notes are limited to 4000 characters.")]})
    end = min(now, shift.ends_at)
    data = snapshot(shift.unit.division_id, shift.starts_at, end, now)
    try:
        with transaction.atomic():
            return Handover.objects.create(
                shift=shift,
                desk=shift.unit,
                window_start=shift.starts_at,
                window_end=end,
                snapshot=data,
                notes=notes or "",
                handed_over_by=actor,
                created_at=now,
                next_shift=roster.next_shift(shift),
            )
    except IntegrityError:
        raise HandoverConflict(
            _("This shift has already been handed over."), code="already_handed_over"
        ) from None


@transaction.atomic
def acknowledge(*, actor, handover: Handover, now: datetime | None = None) -> Handover:
    """The officer of the next shift at the desk confirms they took the handover over."""
    now = now or timezone.now()
    handover = Handover.objects.select_for_update().select_related("shift", "desk").get(pk=handover.pk)
    if handover.acknowledged_at is not None:
        raise HandoverConflict(_("This handover has already been acknowledged."), code="already_acknowledged")
    # The roster may have changed since the handover was written: the next shift is read again.
    following = roster.next_shift(handover.shift)
    if following is None:
        raise HandoverConflict(
            _("No next shift is on the roster: put the incoming officer on it first."), code="no_next_shift"
        )
    if following.user_id != actor.pk:
        raise PermissionDenied(
            _("Only the officer of the next shift (%(name)s) may acknowledge this handover.")
            % {"name": following.user.display_name}
        )
    handover.next_shift = following
    handover.acknowledged_by = actor
    handover.acknowledged_at = now
    handover.save(update_fields=["next_shift", "acknowledged_by", "acknowledged_at"])
    return handover


def handovers_visible_to(user):
    from tasks.selectors import visible_to

    return visible_to(user, Handover.objects.all()).select_related(
        "shift__user", "desk", "handed_over_by", "acknowledged_by", "next_shift__user"
    )


def may_read(user, handover: Handover) -> bool:
    return can(user, "roster.view") and in_scope(user, handover.desk.division_id)


def render_pdf(*, user, handover: Handover, now: datetime | None = None) -> bytes:
    """The handover as PDF, with the reader's watermark tiled on every page (like the report PDFs)."""
    from pathlib import Path

    from weasyprint import CSS, HTML

    html = render_to_string(
        "duty/handover_pdf.html",
        {
            "handover": handover,
            "sections": section_rows(handover),
            "watermark": watermark_text(user, now),
            "tiles": range(12),
            "printed_at": timezone.localtime(now or timezone.now()),
        },
    )
    css_path = finders.find("reports/report_pdf.css")
    document = HTML(string=html, base_url=str(Path(settings.BASE_DIR))).render(
        stylesheets=[CSS(filename=css_path)]
    )
    return document.write_pdf()
