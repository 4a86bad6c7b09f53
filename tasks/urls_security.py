"""Routes of issue 9 (included from tracing_center/urls.py): two-factor pages, reveal, audit."""

from django.urls import path

from .api import security as api_security
from .views import security

urlpatterns = [
    path("accounts/2fa/", security.otp_verify, name="otp_verify"),
    path("accounts/2fa/setup/", security.otp_setup, name="otp_setup"),
    path("tasks/<int:pk>/reveal/", security.task_reveal, name="task_reveal"),
    path("audit/", security.audit_log, name="audit_log"),
    path(
        "audit/persons/<int:person_id>/access.csv", security.audit_person_export, name="audit_person_export"
    ),
    path("api/v1/tasks/<int:task_id>/reveal/", api_security.TaskRevealApi.as_view(), name="task-reveal"),
]
