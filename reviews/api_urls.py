"""Routes of the review API, included under /api/v1/ by tracing_center/urls.py (see reviews/api.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("reviews", api.ReviewViewSet, basename="review")

urlpatterns = [
    path(
        "tasks/<int:task_id>/review-comments/",
        api.TaskReviewCommentsView.as_view(),
        name="task-review-comments",
    ),
    *router.urls,
]
