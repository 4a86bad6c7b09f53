"""Routes of /api/v1/. Each area registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import (
    duplicates,
    fieldwork,
    intake,
    security,  # issue 9: the token endpoint with the second factor
    tasks,
    territory,
    workflow,  # issue 4: dispatch, transfers, escalations, notifications
    worktypes,
)

router = DefaultRouter(trailing_slash=True)
router.register("persons/duplicates", duplicates.DuplicateViewSet, basename="person-duplicate")
router.register("divisions", territory.DivisionViewSet, basename="division")
router.register("units", territory.UnitViewSet, basename="unit")
router.register("duty-shifts", territory.DutyShiftViewSet, basename="dutyshift")
router.register("leads", intake.LeadViewSet, basename="lead")
router.register("batches", intake.BatchViewSet, basename="batch")
router.register("tasks", tasks.TaskViewSet, basename="task")
router.register("escalations", workflow.EscalationViewSet, basename="escalation")
router.register("transfers", workflow.TransferViewSet, basename="transfer")
router.register("notifications", workflow.NotificationViewSet, basename="notification")

# Workflow actions on one task (issue 4): listed before the router so that tasks/bulk-assign/ is not
# read as a task id.
workflow_urls = [
    path("tasks/bulk-assign/", workflow.TaskBulkAssignApi.as_view(), name="task-bulk-assign"),
    path("tasks/<int:task_id>/assign/", workflow.TaskAssignApi.as_view(), name="task-assign"),
    path("tasks/<int:task_id>/receive/", workflow.TaskReceiveApi.as_view(), name="task-receive"),
    path("tasks/<int:task_id>/resolve/", workflow.TaskResolveApi.as_view(), name="task-resolve"),
    path("tasks/<int:task_id>/transfer/", workflow.TaskTransferApi.as_view(), name="task-transfer"),
    path(
        "tasks/<int:task_id>/transfer/accept/",
        workflow.TaskTransferAcceptApi.as_view(),
        name="task-transfer-accept",
    ),
    path(
        "tasks/<int:task_id>/transfer/reject/",
        workflow.TaskTransferRejectApi.as_view(),
        name="task-transfer-reject",
    ),
]

# Work types and the end of a task, before the router for the same reason.
worktype_urls = [
    path("tasks/merge/", worktypes.TaskMergeApi.as_view(), name="task-merge"),
    path("tasks/bulk-close/", worktypes.TaskBulkCloseApi.as_view(), name="task-bulk-close"),
    path("tasks/<int:task_id>/kind/", worktypes.TaskKindApi.as_view(), name="task-kind"),
    path("tasks/<int:task_id>/close/", worktypes.TaskCloseApi.as_view(), name="task-close"),
    path("tasks/<int:task_id>/cancel/", worktypes.TaskCancelApi.as_view(), name="task-cancel"),
    path("tasks/<int:task_id>/reopen/", worktypes.TaskReopenApi.as_view(), name="task-reopen"),
    path(
        "tasks/<int:task_id>/verification/", worktypes.TaskVerificationApi.as_view(), name="task-verification"
    ),
]

# Field work on one task (issue 5), before the router for the same reason.
fieldwork_urls = [
    path("field/tasks/", fieldwork.FieldTaskListView.as_view(), name="field-task-list"),
    path("tasks/<int:task_id>/fieldwork/", fieldwork.FieldworkView.as_view(), name="task-fieldwork"),
    path("tasks/<int:task_id>/attempts/", fieldwork.AttemptsView.as_view(), name="task-attempts"),
    path("tasks/<int:task_id>/radius/", fieldwork.RadiusView.as_view(), name="task-radius"),
    path("tasks/<int:task_id>/trajectory/", fieldwork.TrajectoryView.as_view(), name="task-trajectory"),
    path(
        "tasks/<int:task_id>/trajectory/traced/",
        fieldwork.TrajectoryTracedView.as_view(),
        name="task-trajectory-traced",
    ),
    path(
        "tasks/<int:task_id>/trajectory/<int:entry_id>/",
        fieldwork.TrajectoryEntryView.as_view(),
        name="task-trajectory-entry",
    ),
    path("tasks/<int:task_id>/contacts/", fieldwork.ContactsView.as_view(), name="task-contacts"),
    path("tasks/<int:task_id>/tests/", fieldwork.TestsView.as_view(), name="task-tests"),
    path("tasks/<int:task_id>/submit/", fieldwork.SubmitView.as_view(), name="task-submit"),
    path("tasks/<int:task_id>/registration/", fieldwork.RegistrationView.as_view(), name="task-registration"),
]

urlpatterns = [
    path("auth/token/", security.ObtainTokenApi.as_view(), name="api-token"),  # issue 9: + otp_token, lockout
    path("auth/logout/", security.LogoutTokenApi.as_view(), name="api-logout"),
    path("me/", territory.me, name="api-me"),
    *workflow_urls,
    *worktype_urls,
    *fieldwork_urls,
    *router.urls,
]
