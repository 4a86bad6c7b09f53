"""The release notice (解除通知): a one-page PDF saying that the person's monitoring ended, printable by
the sub-unit and the duty desk of the territory, masked by the reader's role and carrying the reader's
watermark on the page like the report PDFs (tasks/watermark.py). `GET /monitoring/<id>/release.pdf`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from tasks.access_log import record_access
from tasks.masking import mask_record, sees_unmasked
from tasks.models import AccessAction
from tasks.roles import can
from tasks.selectors import get_visible_or_404
from tasks.watermark import watermark_text

from .models import MonitoringPeriod, PeriodState


def notice_context(user, period: MonitoringPeriod, *, now: datetime | None = None) -> dict:
    person = period.person
    shown = mask_record(
        "person",
        {"name": person.name, "id_number": person.id_number},
        unmasked=sees_unmasked(user),
        division_name=period.division.name,
    )
    return {
        "period": period,
        "person_name": shown["name"],
        "person_id_number": shown["id_number"],
        "division_name": period.division.name,
        "subunit_name": period.subunit.name if period.subunit else "",
        "first_day": period.starts_on,
        "last_day": period.ends_on,
        "released_at": timezone.localtime(period.released_at) if period.released_at else None,
        "released_by": period.released_by.display_name if period.released_by else "",
        "watermark": watermark_text(user, now),
        "tiles": range(12),
        "printed_at": timezone.localtime(now or timezone.now()),
    }


def render_notice(user, period: MonitoringPeriod, *, now: datetime | None = None) -> bytes:
    from weasyprint import CSS, HTML

    html = render_to_string("monitoring/release_pdf.html", notice_context(user, period, now=now))
    css_path = finders.find("monitoring/release_pdf.css")
    document = HTML(string=html, base_url=str(Path(settings.BASE_DIR))).render(
        stylesheets=[CSS(filename=css_path)]
    )
    return document.write_pdf()


@login_required
def release_pdf(request, pk: int):
    if not can(request.user, "task.view"):
        raise PermissionDenied
    period = get_visible_or_404(
        request.user,
        MonitoringPeriod.objects.select_related("person", "division", "subunit", "released_by"),
        pk=pk,
    )
    if period.state != PeriodState.RELEASED:
        raise Http404
    pdf = render_notice(request.user, period)
    record_access(request, action=AccessAction.REPORT, objects=[period])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="release-M{period.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
