"""Review pages, included under /reviews/ by tracing_center/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="review_queue"),
    path("<int:pk>/", views.detail, name="review_detail"),
    path("<int:pk>/claim/", views.claim, name="review_claim"),
    path("<int:pk>/assign/", views.assign, name="review_assign"),
    path("<int:pk>/comment/", views.comment, name="review_comment"),
    path("<int:pk>/return/", views.return_task, name="review_return"),
    path("<int:pk>/approve/", views.approve, name="review_approve"),
]
