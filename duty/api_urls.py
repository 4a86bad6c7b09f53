"""Routes of the duty-operations API, included under /api/v1/ (before tasks')."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import handover, predictions, roster, workload
from .api_orders import SupervisionOrderViewSet

router = SimpleRouter(trailing_slash=True)
router.register("supervision-orders", SupervisionOrderViewSet, basename="supervision-order")
router.register("shifts", roster.ShiftViewSet, basename="shift")
router.register("handovers", handover.HandoverViewSet, basename="handover")

urlpatterns: list = [
    path("workload/", workload.WorkloadApi.as_view(), name="workload"),
    path(
        "workload/predicted-breaches/",
        predictions.PredictedBreachesApi.as_view(),
        name="workload-predicted-breaches",
    ),
    *router.urls,
]
