"""The roster pages: a desk's week in Beijing time, adding, editing and deleting shifts, and swaps.
The same services as the API (duty/services/roster.py) do every check."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from duty.services import roster
from tasks.roles import can
from tasks.selectors import accounts_visible_to

INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def _require(user, capability: str) -> None:
    if not can(user, capability):
        raise PermissionDenied


def _moment(value: str | None):
    """A `datetime-local` value, read as Beijing time."""
    try:
        return datetime.strptime((value or "").strip(), INPUT_FORMAT).replace(tzinfo=roster.BEIJING)
    except ValueError:
        return None


def _errors(request, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for messages_ in exc.message_dict.values():
            for message in messages_:
                messages.error(request, message)
    else:
        for message in exc.messages:
            messages.error(request, message)


def _back(desk_id, monday) -> str:
    return f"{reverse('duty_roster')}?desk={desk_id}&week={monday.isoformat()}"


@login_required
@require_http_methods(["GET", "POST"])
def roster_week(request):
    user = request.user
    _require(user, "roster.view")
    desks = list(roster.desks_visible_to(user)[:500])
    if not desks:
        return render(request, "duty/roster.html", {"desks": [], "desk": None})
    desk_id = request.GET.get("desk") or request.POST.get("desk") or ""
    desk = next((d for d in desks if str(d.pk) == desk_id), None) or next(
        (d for d in desks if d.division_id == user.division_id), desks[0]
    )
    monday = roster.week_start(request.GET.get("week") or request.POST.get("week"))
    if request.method == "POST":
        try:
            officer = accounts_visible_to(user).filter(pk=request.POST.get("user") or 0).first()
            if officer is None:
                raise ValidationError({"user": [_("Choose the officer on duty.")]})
            roster.create_shift(
                actor=user,
                unit=desk,
                user=officer,
                starts_at=_moment(request.POST.get("starts_at")),
                ends_at=_moment(request.POST.get("ends_at")),
            )
        except ValidationError as exc:
            _errors(request, exc)
        except PermissionDenied:
            messages.error(request, _("Your role may not edit the roster."))
        else:
            messages.success(request, _("Shift added."))
        return redirect(_back(desk.pk, monday))
    days = roster.week(desk, monday)
    editable = roster.can_edit(user, desk)
    default_start = datetime.combine(monday, datetime.min.time()).replace(hour=8)
    return render(
        request,
        "duty/roster.html",
        {
            "desks": desks,
            "desk": desk,
            "monday": monday,
            "days": days,
            "previous_week": monday - timedelta(days=7),
            "next_week": monday + timedelta(days=7),
            "editable": editable,
            "officers": roster.officers_for(desk) if editable else [],
            "on_shift": list(roster.on_shift(desk)),
            "week_shifts": sorted({s for day in days for s in day.shifts}, key=lambda s: s.starts_at),
            "default_start": default_start.strftime(INPUT_FORMAT),
            "default_end": (default_start + timedelta(hours=12)).strftime(INPUT_FORMAT),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def shift_edit(request, pk: int):
    user = request.user
    _require(user, "roster.edit")
    shift = roster.get_shift_or_404(user, pk)
    monday = roster.week_start(shift.starts_at.astimezone(roster.BEIJING).date().isoformat())
    if not roster.can_edit(user, shift.unit):
        raise Http404
    if request.method == "POST":
        try:
            if request.POST.get("action") == "delete":
                roster.delete_shift(actor=user, shift=shift)
                messages.success(request, _("Shift deleted."))
                return redirect(_back(shift.unit_id, monday))
            officer = accounts_visible_to(user).filter(pk=request.POST.get("user") or 0).first()
            if officer is None:
                raise ValidationError({"user": [_("Choose the officer on duty.")]})
            roster.update_shift(
                actor=user,
                shift=shift,
                user=officer,
                starts_at=_moment(request.POST.get("starts_at")),
                ends_at=_moment(request.POST.get("ends_at")),
            )
        except ValidationError as exc:
            _errors(request, exc)
            return redirect("duty_shift_edit", pk=shift.pk)
        messages.success(request, _("Shift saved."))
        return redirect(_back(shift.unit_id, monday))
    return render(
        request,
        "duty/roster_shift.html",
        {
            "shift": shift,
            "officers": roster.officers_for(shift.unit),
            "starts_at": shift.starts_at.astimezone(roster.BEIJING).strftime(INPUT_FORMAT),
            "ends_at": shift.ends_at.astimezone(roster.BEIJING).strftime(INPUT_FORMAT),
            "back": _back(shift.unit_id, monday),
        },
    )


@login_required
@require_POST
def shift_swap(request):
    user = request.user
    _require(user, "roster.edit")
    visible = roster.shifts_visible_to(user)
    first = visible.filter(pk=request.POST.get("first") or 0).first()
    second = visible.filter(pk=request.POST.get("second") or 0).first()
    desk_id, week = request.POST.get("desk", ""), request.POST.get("week", "")
    if first is None or second is None:
        messages.error(request, _("Choose two shifts to swap."))
    else:
        try:
            roster.swap_shifts(actor=user, first=first, second=second, reason=request.POST.get("reason", ""))
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(
                request,
                _("%(a)s and %(b)s swapped shifts.")
                % {"a": second.user.display_name, "b": first.user.display_name},
            )
    return redirect(f"{reverse('duty_roster')}?desk={desk_id}&week={week}")
