"""Routes of notices, included at the root by tracing_center/urls.py (docs/notices.md)."""

from django.urls import path

from .views import api, desk, public, review

urlpatterns = [
    # Staff pages
    path("notices/", review.notice_list, name="notice_list"),
    path("notices/county/", review.county_queue, name="notice_queue_county"),
    path("notices/city/", review.city_queue, name="notice_queue_city"),
    path("notices/returned/", review.returned, name="notice_returned"),
    path("notices/<int:pk>/", review.detail, name="notice_detail"),
    path("notices/<int:pk>/approve/", review.approve, name="notice_approve"),
    path("notices/<int:pk>/reject/", review.reject, name="notice_reject"),
    path("notices/<int:pk>/resubmit/", review.resubmit, name="notice_resubmit"),
    path("notices/feedback/", desk.feedback_queue, name="notice_feedback_queue"),
    path("notices/feedback/<int:pk>/answer/", desk.feedback_answer, name="notice_feedback_answer"),
    path("notices/follow-ups/", desk.follow_ups, name="notice_follow_ups"),
    path("notices/follow-ups/<int:pk>/done/", desk.follow_up_done, name="notice_follow_up_done"),
    path("notices/templates/", desk.templates, name="notice_templates"),
    path("notices/templates/<slug:category>/", desk.template_edit, name="notice_template_edit"),
    path("notices/rules/", desk.rules_run, name="notice_rules"),
    path("notices/evaluation/", desk.evaluation, name="notice_evaluation"),
    # The person (public, by personal token) and the public display board
    path("n/<str:token>/", public.person_page, name="notice_person"),
    path("n/<str:token>/ack/", public.person_acknowledge, name="notice_person_ack"),
    path("n/<str:token>/feedback/", public.person_feedback, name="notice_person_feedback"),
    path("board/", public.board, name="notice_board"),
    # API
    path("api/v1/notices/", api.NoticeListApi.as_view(), name="notice-list"),
    path("api/v1/notices/evaluation/", api.NoticeEvaluationApi.as_view(), name="notice-evaluation"),
    path("api/v1/notices/sms-inbound/", public.sms_inbound, name="notice-sms-inbound"),
    path("api/v1/notices/<int:pk>/", api.NoticeDetailApi.as_view(), name="notice-detail"),
    path("api/v1/notices/<int:pk>/approve/", api.NoticeApproveApi.as_view(), name="notice-approve"),
    path("api/v1/notices/<int:pk>/reject/", api.NoticeRejectApi.as_view(), name="notice-reject"),
]
