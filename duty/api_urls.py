"""Routes of the duty-operations API, included under /api/v1/ (before tasks')."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=True)
# Each area registers its viewsets on `router`.

urlpatterns: list = [
    *router.urls,
]
