"""Pages of health monitoring (docs/monitoring.md), included at the site root."""

from django.urls import path

from . import release_notice, stats_views

urlpatterns: list = [
    # Each area adds its pages here.
    path("monitoring/stats/", stats_views.monitoring_stats_page, name="monitoring_stats"),
    path("monitoring/<int:pk>/release.pdf", release_notice.release_pdf, name="monitoring_release_pdf"),
]
