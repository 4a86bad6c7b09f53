"""Pages of health monitoring (docs/monitoring.md, docs/monitoring-channels.md), included at the site root."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("field/monitoring/", views.field_due, name="field_monitoring"),
    path("field/monitoring/<int:period_id>/checkin/", views.field_checkin, name="field_monitoring_checkin"),
    path("monitoring/alerts/", views.alert_list, name="monitoring_alerts"),
    path("monitoring/alerts/<int:alert_id>/ack/", views.alert_acknowledge, name="monitoring_alert_ack"),
    path("monitoring/<int:period_id>/", views.period_detail, name="monitoring_period"),
    path("c/<str:token>/", views.person_checkin, name="monitoring_person_checkin"),
]
