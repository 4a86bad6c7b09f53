"""Routes of the monitoring API, included under /api/v1/ by tracing_center/urls.py (before tasks')."""

from rest_framework.routers import SimpleRouter

from .labs_api import LabResultViewSet

router = SimpleRouter(trailing_slash=True)
# Each area registers its viewsets on `router`.
router.register("test-results", LabResultViewSet, basename="test-result")

urlpatterns: list = [
    *router.urls,
]
