"""Routes of the monitoring API, included under /api/v1/ by tracing_center/urls.py (before tasks')."""

from rest_framework.routers import SimpleRouter

from .api import MonitoringViewSet
from .labs_api import LabResultViewSet

router = SimpleRouter(trailing_slash=True)
# Periods: monitoring-list, -detail, -checkins, -release, -stats.
router.register("monitoring", MonitoringViewSet, basename="monitoring")
router.register("test-results", LabResultViewSet, basename="test-result")

urlpatterns: list = [
    *router.urls,
]
