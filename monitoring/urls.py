"""Pages of health monitoring (docs/monitoring.md, docs/monitoring-channels.md, docs/labs.md), included at
the site root."""

from django.urls import path

from . import labs_views, pages, release_notice, stats_views

urlpatterns: list = [
    path("field/monitoring/", pages.field_due, name="field_monitoring"),
    path("field/monitoring/<int:period_id>/checkin/", pages.field_checkin, name="field_monitoring_checkin"),
    path("monitoring/alerts/", pages.alert_list, name="monitoring_alerts"),
    path("monitoring/alerts/<int:alert_id>/ack/", pages.alert_acknowledge, name="monitoring_alert_ack"),
    path("monitoring/stats/", stats_views.monitoring_stats_page, name="monitoring_stats"),
    path("monitoring/<int:period_id>/", pages.period_detail, name="monitoring_period"),
    path("monitoring/<int:period_id>/release/", pages.period_release, name="monitoring_period_release"),
    path("monitoring/<int:pk>/release.pdf", release_notice.release_pdf, name="monitoring_release_pdf"),
    path("c/<str:token>/", pages.person_checkin, name="monitoring_person_checkin"),
    path("lab-results/unmatched/", labs_views.lab_queue, name="lab_queue"),
    path("lab-results/<int:result_id>/", labs_views.lab_result_match, name="lab_result_match"),
    path("lab-results/<int:result_id>/reject/", labs_views.lab_result_reject, name="lab_result_reject"),
]
