"""Routes of the duty-operations API, included under /api/v1/ (before tasks')."""

from rest_framework.routers import SimpleRouter

from .api_orders import SupervisionOrderViewSet

router = SimpleRouter(trailing_slash=True)
# Each area registers its viewsets on `router`.
router.register("supervision-orders", SupervisionOrderViewSet, basename="supervision-order")

urlpatterns: list = [
    *router.urls,
]
