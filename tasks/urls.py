from django.urls import path

from .views import (
    account_admin,
    accounts,
    dispatch,  # issue 4
    duplicates,
    field,
    intake,
    search,
    worktypes,
)

urlpatterns = [
    path("", accounts.home, name="home"),
    path("accounts/activate/", accounts.activate, name="activate"),
    path("healthz", accounts.healthz, name="healthz"),
    # Account administration: the administrator's list, changes, onboarding, activation slips
    path("accounts/", account_admin.account_list, name="account_list"),
    path(
        "accounts/activation.csv", account_admin.account_activation_export, name="account_activation_export"
    ),
    path("accounts/new/", account_admin.account_create, name="account_create"),
    path("accounts/onboard/", account_admin.account_onboard, name="account_onboard"),
    path("accounts/onboard/slips.pdf", account_admin.account_onboard_slips, name="account_onboard_slips"),
    path("accounts/<int:pk>/", account_admin.account_edit, name="account_edit"),
    path("accounts/<int:pk>/deactivate/", account_admin.account_deactivate, name="account_deactivate"),
    path("accounts/<int:pk>/reactivate/", account_admin.account_reactivate, name="account_reactivate"),
    path(
        "accounts/<int:pk>/reset-second-factor/",
        account_admin.account_reset_second_factor,
        name="account_reset_second_factor",
    ),
    path("accounts/<int:pk>/slip.pdf", account_admin.account_slip, name="account_slip"),
    path("intake/", intake.intake, name="intake"),
    path("intake/run/", intake.intake_run_now, name="intake_run_now"),
    path("intake/upload/", intake.upload, name="intake_upload"),
    path("intake/upload/jobs/<str:token>/", intake.upload_job, name="intake_upload_job"),
    path("intake/new/", intake.manual, name="intake_manual"),
    path("intake/batches/<int:batch_id>/", intake.batch_detail, name="intake_batch"),
    path("tasks/", intake.task_list, name="task_list"),
    path("tasks/export/", intake.task_export, name="task_export"),
    path("search/", search.search, name="search"),
    path("tasks/unresolved/", intake.unresolved_queue, name="unresolved_queue"),
    path("tasks/<int:task_id>/", worktypes.task_detail, name="task_detail"),
    path("tasks/merge/", worktypes.task_merge, name="task_merge"),
    path("persons/duplicates/", duplicates.duplicate_queue, name="duplicate_queue"),
    path("persons/duplicates/scan/", duplicates.duplicate_scan, name="duplicate_scan"),
    path("persons/duplicates/<int:candidate_id>/", duplicates.duplicate_decide, name="duplicate_decide"),
    path("field/", field.field_tasks, name="field_tasks"),
    path("field/tasks/<int:task_id>/", field.field_task, name="field_task"),
    path("field/offline/", field.field_offline, name="field_offline"),
    path("field/sw.js", field.field_sw, name="field_sw"),
    # Dispatch, receipts, transfers, notifications (issue 4)
    path("dispatch/tasks/<int:task_id>/resolve/", dispatch.task_resolve, name="task_resolve_page"),
    path("dispatch/tasks/<int:task_id>/receive/", dispatch.task_receive, name="task_receive_page"),
    path("dispatch/tasks/<int:task_id>/transfer/", dispatch.task_transfer, name="task_transfer_page"),
    path("dispatch/divisions/pick/", dispatch.division_pick, name="division_pick"),
    path("dispatch/receipts/", dispatch.receipts, name="receipts"),
    path("dispatch/transfers/", dispatch.transfer_inbox, name="transfer_inbox"),
    path(
        "dispatch/transfers/<int:task_id>/accept/",
        dispatch.transfer_decide,
        {"decision": "accept"},
        name="transfer_accept_page",
    ),
    path(
        "dispatch/transfers/<int:task_id>/reject/",
        dispatch.transfer_decide,
        {"decision": "reject"},
        name="transfer_reject_page",
    ),
    path("dispatch/assign/", dispatch.bulk_assign, name="bulk_assign"),
    path("notifications/", dispatch.notification_inbox, name="notification_inbox"),
    path("notifications/read/", dispatch.notifications_read, name="notifications_read"),
]
