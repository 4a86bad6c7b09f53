"""Template context every page needs: the navigation the account may use and its unread count."""

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import Role
from .roles import can

# The top bar's menus, by the kind of work: (menu label, [(capability, url name, label), ...]). A link
# is shown only when the route exists and the role may use it; a menu left with one link is drawn as that
# link, so a field worker sees three plain links and a duty officer six menus instead of a wrapping row.
NAV_GROUPS = [
    (
        pgettext_lazy("navigation menu", "Tasks"),
        [
            ("task.fieldwork", "field_tasks", _("My tasks")),
            ("task.view", "task_list", _("Task list")),
            ("lead.view", "intake", _("Intake")),
            ("task.resolve", "unresolved_queue", _("Unresolved")),
            ("task.merge", "duplicate_queue", _("Likely duplicates")),
            ("task.assign", "bulk_assign", _("Assign")),
            ("task.assign", "receipts", _("Receipts")),
            ("task.transfer_decide", "transfer_inbox", _("Transfers")),
        ],
    ),
    (
        pgettext_lazy("navigation menu", "Monitoring"),
        [
            ("task.fieldwork", "field_monitoring", _("Due today")),
            ("monitoring.alerts", "monitoring_alerts", _("Monitoring alerts")),
            ("labresult.match", "lab_queue", _("Lab results")),
        ],
    ),
    (
        pgettext_lazy("navigation menu", "Review and notices"),
        [
            ("review.decide", "review_queue", _("Review queue")),
            ("notice.view", "notice_list", _("Notices")),
        ],
    ),
    (
        pgettext_lazy("navigation menu", "Statistics"),
        [
            ("stats.view", "dashboard", _("Dashboard")),
            ("stats.view", "stats", _("Statistics")),
        ],
    ),
    (
        pgettext_lazy("navigation menu", "Duty"),
        [
            ("roster.view", "duty_roster", _("Roster")),
            ("roster.view", "duty_handover_list", _("Handovers")),
            ("workload.view", "duty_workload", _("Workload")),
            ("supervision.view", "supervision_order_list", _("Supervision")),
        ],
    ),
    (
        pgettext_lazy("navigation menu", "Administration"),
        [
            ("audit.view", "audit_log", _("Audit")),
            ("account.manage", "account_list", _("Accounts")),
        ],
    ),
]
# Flat, in menu order: (capability, url name, label).
NAV_LINKS = [link for _label, links in NAV_GROUPS for link in links]


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


def _current(request, links: list[dict]) -> str | None:
    """The url name of the navigation entry the page belongs to: the page itself, else the entry whose
    path is the longest prefix of the page's (a task page belongs to "Tasks", a notice to "Notices")."""
    match = getattr(request, "resolver_match", None)
    names = {link["name"] for link in links}
    if match is not None and match.url_name in names:
        return match.url_name
    path = getattr(request, "path", "") or ""
    best = None
    for link in links:
        if link["url"] != "/" and path.startswith(link["url"]):
            if best is None or len(link["url"]) > len(best["url"]):
                best = link
    return best["name"] if best else None


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    groups: list[dict[str, Any]] = []
    for index, (menu, entries) in enumerate(NAV_GROUPS):
        links: list[dict[str, Any]] = []
        for capability, url_name, label in entries:
            if not _allowed(user, capability):
                continue
            try:
                links.append({"url": reverse(url_name), "label": label, "name": url_name})
            except NoReverseMatch:
                continue
        if links:
            groups.append({"label": menu, "links": links, "key": f"menu{index}"})
    links = [link for group in groups for link in group["links"]]
    current = _current(request, links)
    for group in groups:
        group["current"] = any(link["name"] == current for link in group["links"])

    def unread():
        from .notify import unread_count

        return unread_count(user)

    # Lazy: counted only when a template shows it (one indexed query).
    return {
        "nav_links": links,
        "nav_groups": groups,
        "nav_current": current,
        "nav_names": {link["name"] for link in links},
        "unread_notifications": unread,
    }
