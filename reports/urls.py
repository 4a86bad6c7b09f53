from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/geo.json", views.dashboard_geo, name="dashboard_geo"),
    path("stats/", views.stats_page, name="stats"),
    path("stats/export/", views.stats_export, name="stats_export"),
    path("reports/deliveries/", views.deliveries, name="report_deliveries"),
    path("reports/tasks/<int:task_id>/", views.report_task, name="report_task"),
    path("reports/tasks/<int:task_id>/report.pdf", views.report_task_pdf, name="report_task_pdf"),
    path("reports/tasks/<int:task_id>/v<int:number>/", views.report_version, name="report_version"),
    path(
        "reports/tasks/<int:task_id>/v<int:number>.pdf", views.report_version_pdf, name="report_version_pdf"
    ),
    path("reports/tasks/<int:task_id>/cluster/", views.report_cluster, name="report_cluster"),
    path("reports/tasks/<int:task_id>/chain/", views.report_chain, name="report_chain"),
]
