"""Routes of /api/v1/. Each area registers its viewsets here."""

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import territory

router = DefaultRouter(trailing_slash=True)
router.register("divisions", territory.DivisionViewSet, basename="division")
router.register("units", territory.UnitViewSet, basename="unit")
router.register("duty-shifts", territory.DutyShiftViewSet, basename="dutyshift")

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("me/", territory.me, name="api-me"),
    *router.urls,
]
