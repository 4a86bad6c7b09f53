"""Template context every page needs: the navigation the account may use and its unread count."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .models import Role
from .roles import can

# (capability, url name, label): top-bar links, shown only when the route exists and the role may use it.
NAV_LINKS = [
    ("stats.view", "dashboard", _("Dashboard")),
    ("lead.view", "intake", _("Intake")),
    ("task.view", "task_list", _("Tasks")),
    ("task.resolve", "unresolved_queue", _("Unresolved")),
    ("task.merge", "duplicate_queue", _("Likely duplicates")),
    ("labresult.match", "lab_queue", _("Lab results")),
    ("task.transfer_decide", "transfer_inbox", _("Transfers")),
    ("task.fieldwork", "field_tasks", _("My tasks")),
    ("task.fieldwork", "field_monitoring", _("Due today")),
    ("monitoring.alerts", "monitoring_alerts", _("Monitoring alerts")),
    ("review.decide", "review_queue", _("Review queue")),
    ("notice.view", "notice_list", _("Notices")),
    ("supervision.view", "supervision_order_list", _("Supervision")),
    ("stats.view", "stats", _("Statistics")),
    ("roster.view", "duty_roster", _("Roster")),
    ("workload.view", "duty_workload", _("Workload")),
    ("audit.view", "audit_log", _("Audit")),
    ("account.manage", "account_list", _("Accounts")),
]


# The notice pages are for the staff roles of the notices app; the base app names them here rather than
# importing the upper app.
NOTICE_ROLES = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.COMMANDER, Role.AUDITOR, Role.ADMIN}
# The monitoring alert list (the monitoring app's page) is for the duty desk, CDC experts and the command.
MONITORING_ALERT_ROLES = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.COMMANDER, Role.ADMIN}

# Supervision orders (the duty app): issued by commanders and duty officers, owned by units and persons.
SUPERVISION_ROLES = {Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.FIELD_STAFF, Role.COMMANDER, Role.ADMIN}


def _allowed(user, capability: str) -> bool:
    if capability == "notice.view":
        return user.is_superuser or user.role in NOTICE_ROLES
    if capability == "supervision.view":
        return user.is_superuser or user.role in SUPERVISION_ROLES
    if capability == "monitoring.alerts":
        return user.is_superuser or user.role in MONITORING_ALERT_ROLES
    return can(user, capability)


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    links = []
    for capability, url_name, label in NAV_LINKS:
        if not _allowed(user, capability):
            continue
        try:
            links.append({"url": reverse(url_name), "label": label, "name": url_name})
        except NoReverseMatch:
            continue

    def unread():
        from .notify import unread_count

        return unread_count(user)

    # Lazy: counted only when a template shows it (one indexed query).
    return {
        "nav_links": links,
        "nav_names": {link["name"] for link in links},
        "unread_notifications": unread,
    }
