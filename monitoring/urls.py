"""Pages of health monitoring (docs/monitoring.md), included at the site root."""

from django.urls import path  # noqa: F401

urlpatterns: list = [
    # Each area adds its pages here.
]
