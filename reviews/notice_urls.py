"""Routes of notices (issue 8), included at the root by tracing_center/urls.py (docs/notices.md)."""

from django.urls import path

from . import notice_views as views

urlpatterns = [
    # Staff pages
    path("notices/", views.notice_list, name="notice_list"),
    path("notices/county/", views.county_queue, name="notice_queue_county"),
    path("notices/city/", views.city_queue, name="notice_queue_city"),
    path("notices/returned/", views.returned, name="notice_returned"),
    path("notices/<int:pk>/", views.detail, name="notice_detail"),
    path("notices/<int:pk>/approve/", views.approve, name="notice_approve"),
    path("notices/<int:pk>/reject/", views.reject, name="notice_reject"),
    path("notices/<int:pk>/resubmit/", views.resubmit, name="notice_resubmit"),
    path("notices/feedback/", views.feedback_queue, name="notice_feedback_queue"),
    path("notices/feedback/<int:pk>/answer/", views.feedback_answer, name="notice_feedback_answer"),
    path("notices/follow-ups/", views.follow_ups, name="notice_follow_ups"),
    path("notices/follow-ups/<int:pk>/done/", views.follow_up_done, name="notice_follow_up_done"),
    path("notices/templates/", views.templates, name="notice_templates"),
    path("notices/templates/<slug:category>/", views.template_edit, name="notice_template_edit"),
    path("notices/rules/", views.rules_run, name="notice_rules"),
    path("notices/evaluation/", views.evaluation, name="notice_evaluation"),
    # The person (public, by personal token) and the public display board
    path("n/<str:token>/", views.person_page, name="notice_person"),
    path("n/<str:token>/ack/", views.person_acknowledge, name="notice_person_ack"),
    path("n/<str:token>/feedback/", views.person_feedback, name="notice_person_feedback"),
    path("board/", views.board, name="notice_board"),
    # API
    path("api/v1/notices/", views.NoticeListApi.as_view(), name="notice-list"),
    path("api/v1/notices/evaluation/", views.NoticeEvaluationApi.as_view(), name="notice-evaluation"),
    path("api/v1/notices/sms-inbound/", views.sms_inbound, name="notice-sms-inbound"),
    path("api/v1/notices/<int:pk>/", views.NoticeDetailApi.as_view(), name="notice-detail"),
    path("api/v1/notices/<int:pk>/approve/", views.NoticeApproveApi.as_view(), name="notice-approve"),
    path("api/v1/notices/<int:pk>/reject/", views.NoticeRejectApi.as_view(), name="notice-reject"),
]
