"""Pages of duty operations (docs/duty.md), included at the site root."""

from django.urls import path

from . import views_orders

urlpatterns: list = [
    # Each area adds its pages here.
    path("supervision/", views_orders.order_list, name="supervision_order_list"),
    path("supervision/new/", views_orders.order_new, name="supervision_order_new"),
    path("supervision/stats/", views_orders.order_stats, name="supervision_order_stats"),
    path("supervision/<int:order_id>/", views_orders.order_detail, name="supervision_order_detail"),
    path(
        "supervision/<int:order_id>/<slug:action>/",
        views_orders.order_action,
        name="supervision_order_action",
    ),
]
