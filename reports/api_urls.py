"""Routes of the reports API, included under /api/v1/ before tasks.api.urls (tracing_center/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("stats/", api.StatsView.as_view(), name="api-stats"),
    path("stats/sla/", api.SlaView.as_view(), name="api-stats-sla"),
    path("stats/dashboard/", api.dashboard_data, name="api-stats-dashboard"),
    path("reports/chain/<int:task_id>/", api.ChainView.as_view(), name="api-report-chain"),
]
