"""Routes of the monitoring API, included under /api/v1/ by tracing_center/urls.py (before tasks')."""

from rest_framework.routers import SimpleRouter

from .api import MonitoringViewSet

router = SimpleRouter(trailing_slash=True)
# Each area registers its viewsets on `router`.
# Periods: monitoring-list, -detail, -checkins, -release, -stats.
router.register("monitoring", MonitoringViewSet, basename="monitoring")

urlpatterns: list = [
    *router.urls,
]
