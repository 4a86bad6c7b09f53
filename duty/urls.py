"""Pages of duty operations (docs/duty.md), included at the site root."""

from django.urls import path

from . import views_orders
from .views import handover, predictions, roster, workload

urlpatterns: list = [
    path("supervision/", views_orders.order_list, name="supervision_order_list"),
    path("supervision/new/", views_orders.order_new, name="supervision_order_new"),
    path("supervision/stats/", views_orders.order_stats, name="supervision_order_stats"),
    path("supervision/<int:order_id>/", views_orders.order_detail, name="supervision_order_detail"),
    path(
        "supervision/<int:order_id>/<slug:action>/",
        views_orders.order_action,
        name="supervision_order_action",
    ),
    path("duty/roster/", roster.roster_week, name="duty_roster"),
    path("duty/roster/shifts/<int:pk>/", roster.shift_edit, name="duty_shift_edit"),
    path("duty/roster/swap/", roster.shift_swap, name="duty_shift_swap"),
    path("duty/shifts/<int:shift_id>/handover/", handover.handover_new, name="duty_handover_new"),
    path("duty/handovers/", handover.handover_list, name="duty_handover_list"),
    path("duty/handovers/<int:pk>/", handover.handover_detail, name="duty_handover"),
    path(
        "duty/handovers/<int:pk>/acknowledge/",
        handover.handover_acknowledge,
        name="duty_handover_acknowledge",
    ),
    path("duty/handovers/<int:pk>/pdf/", handover.handover_pdf, name="duty_handover_pdf"),
    path("duty/workload/", workload.workload_page, name="duty_workload"),
    path(
        "duty/predicted-breaches/",
        predictions.predicted_breaches_page,
        name="duty_predicted_breaches",
    ),
]
