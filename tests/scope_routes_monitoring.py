"""Scope entries of the monitoring pages (docs/monitoring-channels.md) for tests/test_scope_routes.py:

    from tests.scope_routes_monitoring import monitoring_page_routes
    ROUTES.update(monitoring_page_routes(Detail, PageList, Public))

Another village's period (and another county's alert) does not exist: 404; the lists leave them out.
The person's link is public: the unguessable token is its only key (tests/test_monitoring_pages.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP

OTHER_COUNTY_VILLAGE = "460106001002"


def running_period(division: str):
    from django.utils import timezone

    from monitoring.clock import local_day
    from tests.monitoring_fixtures import make_period
    from tests.workflow_fixtures import make_task

    now = timezone.now()
    task = make_task(division, status="approved")
    return make_period(task, starts_on=local_day(now) - timedelta(days=1), now=now)


def abnormal_alert(division: str):
    from monitoring.models import MonitoringAlert
    from monitoring.services.checkins import record_checkin

    period = running_period(division)
    record_checkin(period, channel="field", temperature="38.6", idempotency_key=uuid.uuid4())
    return MonitoringAlert.objects.get(period=period)


def monitoring_page_routes(Detail, PageList, Public) -> dict:
    period_kwargs = lambda p: {"period_id": p.pk}  # noqa: E731
    return {
        "field_monitoring": PageList(
            lambda: running_period(OTHER_VILLAGE_SAME_TOWNSHIP),
            own=lambda: running_period(HOME_VILLAGE),
            context_key="rows",
        ),
        "field_monitoring_checkin": Detail(
            lambda: running_period(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=period_kwargs, method="post"
        ),
        "monitoring_period": Detail(
            lambda: running_period(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=period_kwargs
        ),
        "monitoring_period_release": Detail(
            lambda: running_period(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=period_kwargs, method="post"
        ),
        "monitoring_alerts": PageList(
            lambda: abnormal_alert(OTHER_COUNTY_VILLAGE),
            own=lambda: abnormal_alert(HOME_VILLAGE),
            context_key="alerts",
            account="duty_officer",
        ),
        "monitoring_alert_ack": Detail(
            lambda: abnormal_alert(OTHER_COUNTY_VILLAGE),
            kwargs=lambda a: {"alert_id": a.pk},
            method="post",
            account="duty_officer",
        ),
        "monitoring_person_checkin": Public(),
    }
