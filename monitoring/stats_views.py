"""`/monitoring/stats/`: the monitoring figures of the reader's territory and the measure execution rate
by division and day (monitoring/stats.py), with a CSV export of the rate table (`?export=csv`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tasks.exports import csv_text
from tasks.models import CaseStatus
from tasks.roles import can

from . import stats

FIGURE_LABELS = {
    "monitored_now": _("Monitored now"),
    "due_today": _("Check-ins due today"),
    "checked_in_today": _("Checked in today"),
    "missed": _("Missed today"),
    "lost_contact": _("Lost contact"),
    "abnormal_today": _("Abnormal today"),
    "samples_due": _("Samples due today"),
    "samples_overdue": _("Samples overdue"),
    "positives_today": _("Positive results today"),
}


def _query(request):
    if not can(request.user, "stats.view"):
        raise PermissionDenied
    try:
        return stats.parse_query(request.user, request.GET)
    except stats.OutsideTerritory:
        raise Http404 from None


@login_required
def monitoring_stats_page(request):
    try:
        query = _query(request)
    except stats.BadParameter as exc:
        return HttpResponseBadRequest(f"{exc.field}: {exc.message}")
    data = stats.compute(query)
    rows = data["execution"]["rows"]
    if request.GET.get("export"):
        if request.GET["export"] != "csv":
            return HttpResponseBadRequest("export must be csv")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        body = csv_text(stats.RATE_COLUMNS, [[row[c] for c in stats.RATE_COLUMNS] for row in rows])
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="monitoring-execution-{stamp}.csv"'
        return response
    return render(
        request,
        "monitoring/stats.html",
        {
            "q": query,
            "figures": [(FIGURE_LABELS[key], data[key]) for key in stats.TODAY_KEYS],
            "cases": [(label, data["case_status"][value]) for value, label in CaseStatus.choices],
            "rows": rows,
            "totals": data["execution"]["totals"],
            "query_string": request.GET.urlencode(),
        },
    )
