"""The handover pages: write the handover of a shift (the figures previewed from the live data), read one,
acknowledge it as the next shift's officer, print it as a watermarked PDF, and a desk's recent ones."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from duty.models import Handover
from duty.services import handover as handovers
from duty.services import roster
from tasks.roles import can


def _require(user, capability: str) -> None:
    if not can(user, capability):
        raise PermissionDenied


def _handover_or_404(user, pk) -> Handover:
    try:
        return handovers.handovers_visible_to(user).get(pk=pk)
    except Handover.DoesNotExist:
        raise Http404 from None


@login_required
@require_http_methods(["GET", "POST"])
def handover_new(request, shift_id: int):
    user = request.user
    _require(user, "roster.view")
    shift = roster.get_shift_or_404(user, shift_id)
    existing = Handover.objects.filter(shift=shift).first()
    if existing is not None:
        return redirect("duty_handover", pk=existing.pk)
    if request.method == "POST":
        try:
            record = handovers.hand_over(actor=user, shift=shift, notes=request.POST.get("notes", ""))
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("duty_handover_new", shift_id=shift.pk)
        except PermissionDenied as exc:
            messages.error(request, str(exc) or _("Your role may not do this."))
            return redirect("duty_handover_new", shift_id=shift.pk)
        messages.success(request, _("Shift handed over."))
        return redirect("duty_handover", pk=record.pk)
    now = timezone.now()
    end = min(now, shift.ends_at)
    preview = handovers.snapshot(shift.unit.division_id, shift.starts_at, max(end, shift.starts_at), now)
    rows = [
        {"name": name, "label": handovers.SECTIONS[name].label, **data}
        for name, data in preview["sections"].items()
    ]
    return render(
        request,
        "duty/handover_new.html",
        {"shift": shift, "sections": rows, "next_shift": roster.next_shift(shift), "window_end": end},
    )


@login_required
def handover_detail(request, pk: int):
    user = request.user
    _require(user, "roster.view")
    record = _handover_or_404(user, pk)
    following = roster.next_shift(record.shift)
    return render(
        request,
        "duty/handover.html",
        {
            "handover": record,
            "sections": handovers.section_rows(record),
            "next_shift": record.next_shift if record.acknowledged_at else following,
            "may_acknowledge": record.acknowledged_at is None
            and following is not None
            and following.user_id == user.pk,
        },
    )


@login_required
@require_POST
def handover_acknowledge(request, pk: int):
    user = request.user
    _require(user, "roster.view")
    record = _handover_or_404(user, pk)
    try:
        handovers.acknowledge(actor=user, handover=record)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("Your role may not do this."))
    else:
        messages.success(request, _("Handover acknowledged."))
    return redirect("duty_handover", pk=record.pk)


@login_required
def handover_pdf(request, pk: int):
    user = request.user
    _require(user, "roster.view")
    record = _handover_or_404(user, pk)
    pdf = handovers.render_pdf(user=user, handover=record)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="handover-{record.pk}.pdf"'
    return response


@login_required
def handover_list(request):
    user = request.user
    _require(user, "roster.view")
    records = handovers.handovers_visible_to(user).order_by("-created_at", "-id")[:100]
    return render(request, "duty/handover_list.html", {"handovers": records})
