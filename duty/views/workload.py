"""The workload page: members and teams of a territory, and the suggested rebalancing that a leader
applies with one click (the form posts to the bulk assignment page, tasks/views/dispatch.py bulk_assign,
which re-checks every task)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from rest_framework.exceptions import ValidationError as ApiValidationError

from duty.api.workload import division_param
from duty.services.workload import STATES, workload
from tasks.models import Division
from tasks.models.tracing import TaskKind
from tasks.roles import can


@login_required
def workload_page(request):
    user = request.user
    if not can(user, "workload.view"):
        raise PermissionDenied
    error = ""
    try:
        prefix = division_param(user, request.GET.get("division"))
    except ApiValidationError:
        prefix, error = division_param(user, None), "division"
    data = workload(prefix)
    division = Division.objects.filter(code=prefix).first()
    return render(
        request,
        "duty/workload.html",
        {
            "data": data,
            "division": division,
            "prefix": prefix,
            "error": error,
            "kinds": [(k, TaskKind(k).label) for k in TaskKind.values],
            "states": STATES,
            "may_assign": can(user, "task.assign"),
        },
    )
