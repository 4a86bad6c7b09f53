"""The duty roster: shifts of the duty desks (tasks.models.DutyShift), their week view in Beijing time,
and swaps. The sweep (tasks/sweep.py) sends a desk's breaches to the officers on shift there, else to every
duty officer of the desk; the dashboard warns when a desk has nobody on shift
(tasks.selectors.desks_without_officer_on_shift).

Rules every write follows (API and pages alike): the desk is a duty desk the actor sees and may edit
(`roster.edit`: the desk's duty officers, commanders); the officer is an active duty officer or commander
whose scope lies inside the desk's territory; a person is never on two shifts at once (checked under a
lock on the person's account row, so two simultaneous writes cannot both pass); a shift that has been
handed over is history and stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from duty.models import Handover, ShiftSwap
from tasks.models import DutyShift, Role, Unit, User
from tasks.roles import can
from tasks.selectors import in_scope, visible_to

BEIJING = ZoneInfo("Asia/Shanghai")
OFFICER_ROLES = frozenset({Role.DUTY_OFFICER, Role.COMMANDER})
# A shift longer than this is a typing mistake (a week instead of a day), not a shift.
MAX_SHIFT = timedelta(hours=48)


def shifts_visible_to(user) -> QuerySet[DutyShift]:
    return visible_to(user, DutyShift.objects.all(), path="unit__division__code").select_related(
        "unit", "user"
    )


def desks_visible_to(user) -> QuerySet[Unit]:
    return visible_to(user, Unit.objects.filter(kind=Unit.Kind.DUTY_DESK), path="division__code").order_by(
        "division_id"
    )


def get_shift_or_404(user, pk) -> DutyShift:
    try:
        return shifts_visible_to(user).get(pk=pk)
    except (DutyShift.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def can_edit(user, desk: Unit) -> bool:
    return can(user, "roster.edit") and in_scope(user, desk.division_id)


def officers_for(desk: Unit) -> QuerySet[User]:
    """Who may be put on this desk's roster: active duty officers and commanders inside its territory."""
    return User.objects.filter(
        is_active=True, role__in=OFFICER_ROLES, division__code__startswith=desk.division_id
    ).order_by("division_id", "username")


def _check_desk(actor, desk: Unit | None) -> Unit:
    if desk is None or desk.kind != Unit.Kind.DUTY_DESK or not in_scope(actor, desk.division_id):
        raise ValidationError({"unit": [_("Choose a duty desk in your territory.")]})
    if not can(actor, "roster.edit"):
        raise PermissionDenied(_("Your role may not edit the roster."))
    return desk


def _check_officer(desk: Unit, officer: User | None) -> User:
    if officer is None:
        raise ValidationError({"user": [_("Choose the officer on duty.")]})
    if not officer.is_active or officer.role not in OFFICER_ROLES:
        raise ValidationError({"user": [_("Only an active duty officer or commander can be on the roster.")]})
    if not (officer.division_id or "").startswith(desk.division_id):
        raise ValidationError(
            {
                "user": [
                    _("%(name)s does not belong to the territory of %(desk)s.")
                    % {"name": officer.display_name, "desk": desk.name}
                ]
            }
        )
    return officer


def _check_window(starts_at, ends_at) -> None:
    errors: dict[str, list[str]] = {}
    if starts_at is None:
        errors["starts_at"] = [_("Give the start of the shift.")]
    if ends_at is None:
        errors["ends_at"] = [_("Give the end of the shift.")]
    if errors:
        raise ValidationError(errors)
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationError({"starts_at": [_("Times must include a time zone.")]})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("The shift must end after it starts.")]})
    if ends_at - starts_at > MAX_SHIFT:
        raise ValidationError({"ends_at": [_("A shift lasts at most 48 hours.")]})


def _check_no_overlap(officer: User, starts_at, ends_at, *, exclude: list[int]) -> None:
    # The lock on the officer's row serialises every roster write for this person: two overlapping
    # shifts written at the same moment cannot both find the other missing.
    User.objects.select_for_update().filter(pk=officer.pk).first()
    clash = (
        DutyShift.objects.filter(user=officer, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .exclude(pk__in=exclude)
        .select_related("unit")
        .order_by("starts_at")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "user": [
                    _("%(name)s is already on duty at %(desk)s from %(start)s to %(end)s.")
                    % {
                        "name": officer.display_name,
                        "desk": clash.unit.name,
                        "start": f"{clash.starts_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
                        "end": f"{clash.ends_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
                    }
                ]
            }
        )


def _check_not_handed_over(shift: DutyShift) -> None:
    if Handover.objects.filter(shift=shift).exists():
        raise ValidationError(
            {"non_field_errors": [_("This shift has been handed over; it can no longer change.")]}
        )


@transaction.atomic
def create_shift(*, actor, unit: Unit | None, user: User | None, starts_at, ends_at) -> DutyShift:
    desk = _check_desk(actor, unit)
    officer = _check_officer(desk, user)
    _check_window(starts_at, ends_at)
    _check_no_overlap(officer, starts_at, ends_at, exclude=[])
    return DutyShift.objects.create(unit=desk, user=officer, starts_at=starts_at, ends_at=ends_at)


@transaction.atomic
def update_shift(
    *, actor, shift: DutyShift, user: User | None = None, starts_at=None, ends_at=None
) -> DutyShift:
    shift = DutyShift.objects.select_for_update().select_related("unit").get(pk=shift.pk)
    desk = _check_desk(actor, shift.unit)
    _check_not_handed_over(shift)
    officer = _check_officer(desk, user or shift.user)
    starts_at = starts_at or shift.starts_at
    ends_at = ends_at or shift.ends_at
    _check_window(starts_at, ends_at)
    _check_no_overlap(officer, starts_at, ends_at, exclude=[shift.pk])
    shift.user, shift.starts_at, shift.ends_at = officer, starts_at, ends_at
    shift.save(update_fields=["user", "starts_at", "ends_at"])
    return shift


@transaction.atomic
def delete_shift(*, actor, shift: DutyShift) -> None:
    shift = DutyShift.objects.select_for_update().select_related("unit").get(pk=shift.pk)
    _check_desk(actor, shift.unit)
    _check_not_handed_over(shift)
    shift.delete()


@transaction.atomic
def swap_shifts(
    *, actor, first: DutyShift, second: DutyShift, reason: str = "", now: datetime | None = None
) -> ShiftSwap:
    """Two officers exchange shifts: each takes the other's window. Recorded as a ShiftSwap."""
    now = now or timezone.now()
    if first.pk == second.pk:
        raise ValidationError({"second": [_("Choose two different shifts.")]})
    locked = {
        s.pk: s
        for s in DutyShift.objects.select_for_update()
        .select_related("unit", "user")
        .filter(pk__in=[first.pk, second.pk])
    }
    first, second = locked[first.pk], locked[second.pk]
    for shift in (first, second):
        _check_desk(actor, shift.unit)
        _check_not_handed_over(shift)
        if shift.ends_at <= now:
            raise ValidationError(
                {"first" if shift is first else "second": [_("A past shift cannot be swapped.")]}
            )
    if first.user_id == second.user_id:
        raise ValidationError({"second": [_("Both shifts belong to the same officer.")]})
    first_officer, second_officer = first.user, second.user
    _check_officer(second.unit, first_officer)
    _check_officer(first.unit, second_officer)
    # Lock both accounts in id order (no deadlock with a swap the other way round).
    for officer in sorted((first_officer, second_officer), key=lambda u: u.pk):
        User.objects.select_for_update().filter(pk=officer.pk).first()
    _check_no_overlap(first_officer, second.starts_at, second.ends_at, exclude=[first.pk, second.pk])
    _check_no_overlap(second_officer, first.starts_at, first.ends_at, exclude=[first.pk, second.pk])
    first.user, second.user = second_officer, first_officer
    first.save(update_fields=["user"])
    second.save(update_fields=["user"])
    return ShiftSwap.objects.create(
        first_shift=first,
        second_shift=second,
        first_officer=first_officer,
        second_officer=second_officer,
        swapped_by=actor,
        swapped_at=now,
        reason=(reason or "")[:200],
    )


# ---- the week view --------------------------------------------------------------------------------


@dataclass
class Day:
    day: date
    shifts: list[DutyShift]


def week_start(value: str | None, now: datetime | None = None) -> date:
    """The Monday (Beijing) of the week containing `value` (YYYY-MM-DD) or of today."""
    today = timezone.localtime(now or timezone.now(), BEIJING).date()
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


def week(desk: Unit, monday: date) -> list[Day]:
    """The seven days from `monday` with the shifts that touch each day (Beijing time), one query."""
    start = datetime.combine(monday, time.min, BEIJING)
    end = start + timedelta(days=7)
    shifts = list(
        DutyShift.objects.filter(unit=desk, starts_at__lt=end, ends_at__gt=start)
        .annotate(handed_over=Exists(Handover.objects.filter(shift=OuterRef("pk"))))
        .select_related("user")
        .order_by("starts_at", "id")
    )
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        day_start = datetime.combine(day, time.min, BEIJING)
        day_end = day_start + timedelta(days=1)
        days.append(Day(day, [s for s in shifts if s.starts_at < day_end and s.ends_at > day_start]))
    return days


def on_shift(desk: Unit, now: datetime | None = None) -> QuerySet[DutyShift]:
    now = now or timezone.now()
    return DutyShift.objects.filter(unit=desk, starts_at__lte=now, ends_at__gt=now).select_related("user")


def next_shift(shift: DutyShift) -> DutyShift | None:
    """The shift after `shift` at the same desk: the earliest one starting after it started."""
    return (
        DutyShift.objects.filter(unit_id=shift.unit_id, starts_at__gt=shift.starts_at)
        .exclude(pk=shift.pk)
        .select_related("user")
        .order_by("starts_at", "id")
        .first()
    )
