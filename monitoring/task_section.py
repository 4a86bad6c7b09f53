"""The "monitoring and tests" section of the task page (tasks.hooks.provide_task_page_section): the task's
monitoring periods with their state, days and samples, each linked to its period page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from .clock import local_day
from .models import MonitoringPeriod, SampleState


def task_section(*, task, user) -> dict[str, Any] | None:
    from tasks.selectors import visible_to

    from .pages import day_of

    periods = list(
        visible_to(user, MonitoringPeriod.objects.filter(task_id=task.pk))
        .annotate(
            samples_open=Count("samples", filter=Q(samples__state=SampleState.DUE)),
            samples_done=Count("samples", filter=Q(samples__state=SampleState.DONE)),
        )
        .order_by("-starts_on", "-id")
    )
    if not periods:
        return None
    today = local_day(timezone.now())
    for period in periods:
        period.day_x, period.day_y = day_of(period, today)
    return {"template": "monitoring/_task_section.html", "periods": periods}
