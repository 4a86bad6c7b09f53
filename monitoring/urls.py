"""Pages of health monitoring (docs/monitoring.md), included at the site root."""

from django.urls import path

from . import labs_views

urlpatterns: list = [
    # Each area adds its pages here.
    path("lab-results/unmatched/", labs_views.lab_queue, name="lab_queue"),
    path("lab-results/<int:result_id>/", labs_views.lab_result_match, name="lab_result_match"),
    path("lab-results/<int:result_id>/reject/", labs_views.lab_result_reject, name="lab_result_reject"),
]
