"""The predicted-breaches page (`/duty/predicted-breaches/?division=&hours=`) and its panel on the duty
dashboard. The dashboard lives in reports, which may not import this app: the panel is registered in
DutyConfig.ready() through reports.panels, and the dashboard renders whatever is registered."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError as ApiValidationError

from duty.api.predictions import hours_param
from duty.api.workload import division_param
from duty.services.predictions import DEFAULT_HOURS, MAX_HOURS, predicted_breaches, predicted_breaches_shared
from tasks.models import Division, TracingTask
from tasks.roles import can
from tasks.views.worktypes import CLOCK_LABELS

# Townships shown on the dashboard panel (those in trouble first); the page shows them all.
PANEL_TOWNSHIPS = 6


def _context(user, data: dict, townships: list[dict]) -> dict:
    for township in townships:
        for task in township["worst"]:
            task["step_label"] = CLOCK_LABELS.get(task["step"], task["step"])
            task["due_at"] = parse_datetime(task["due"]) if task["due"] else None
    return {
        "data": data,
        "townships": townships,
        "hour_range": range(1, data["hours"] + 1),
        "may_assign": can(user, "task.assign"),
    }


@login_required
def predicted_breaches_page(request):
    user = request.user
    if not can(user, "workload.view"):
        raise PermissionDenied
    error = ""
    try:
        prefix = division_param(user, request.GET.get("division"))
    except ApiValidationError:
        prefix, error = division_param(user, None), "division"
    try:
        hours = hours_param(request.GET.get("hours"))
    except ApiValidationError:
        hours, error = DEFAULT_HOURS, "hours"
    # Live, like the workload page: a leader sees the effect of a rebalancing at once.
    data = predicted_breaches(prefix, hours=hours)
    worst_ids = [task["id"] for township in data["townships"] for task in township["worst"]]
    found = TracingTask.objects.in_bulk(worst_ids)
    return render(
        request,
        "duty/predicted_breaches.html",
        {
            **_context(user, data, data["townships"]),
            "division": Division.objects.filter(code=prefix).first(),
            "prefix": prefix,
            "hours": hours,
            "hour_choices": range(1, MAX_HOURS + 1),
            "now": parse_datetime(data["now"]),
            "error": error,
            # The tasks the page links to, in the order shown (the scope walker reads them).
            "tasks": [found[i] for i in worst_ids if i in found],
        },
    )


def dashboard_panel(request, root: str) -> str:
    """The dashboard's panel: the townships expected to breach in the next DEFAULT_HOURS hours."""
    user = request.user
    if not can(user, "workload.view"):
        return ""
    data = predicted_breaches_shared(root, hours=DEFAULT_HOURS)
    townships = [t for t in data["townships"] if t["expected_breaches"] or t["already_breached"]]
    return render_to_string(
        "duty/_predicted_panel.html",
        {
            **_context(user, data, townships[:PANEL_TOWNSHIPS]),
            "more": max(len(townships) - PANEL_TOWNSHIPS, 0),
            "root": root,
        },
        request=request,
    )
