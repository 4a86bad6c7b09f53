"""What each role may do. Territory decides *where* an account acts (selectors.visible_to); this table
decides *what* it may do there. Views and API permissions ask `can(user, capability)`, never a role name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .models.accounts import Role

CAPABILITIES: dict[str, frozenset[str]] = {
    # intake
    "lead.create": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "lead.view": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.COMMANDER, Role.ADMIN, Role.AUDITOR}),
    "intake.run": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    # tasks
    "task.view": frozenset(
        {
            Role.DUTY_OFFICER,
            Role.TEAM_LEADER,
            Role.FIELD_STAFF,
            Role.CDC_EXPERT,
            Role.COMMANDER,
            Role.AUDITOR,
            Role.ADMIN,
        }
    ),
    "task.resolve": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "task.assign": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.ADMIN}),
    "task.transfer": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.FIELD_STAFF, Role.ADMIN}),
    "task.transfer_decide": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "task.receive": frozenset({Role.FIELD_STAFF, Role.TEAM_LEADER}),
    "task.fieldwork": frozenset({Role.FIELD_STAFF, Role.TEAM_LEADER}),
    # work types and the end of a task (tasks/worktypes.py)
    "task.kind": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.ADMIN}),
    "task.close": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.ADMIN}),
    "task.merge": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    # lab results (the monitoring app): laboratories push with a duty-desk integration account; the duty
    # officer matches or rejects what the blind index could not match
    "labresult.create": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "labresult.view": frozenset(
        {Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.CDC_EXPERT, Role.COMMANDER, Role.AUDITOR, Role.ADMIN}
    ),
    "labresult.match": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    # review, reports, statistics, audit
    "review.decide": frozenset({Role.CDC_EXPERT}),
    "stats.view": frozenset(
        {Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.COMMANDER, Role.CDC_EXPERT, Role.ADMIN}
    ),
    "audit.view": frozenset({Role.AUDITOR, Role.ADMIN}),
    # running the command center (duty app): the desk's roster and handovers, the load of members
    "roster.view": frozenset({Role.DUTY_OFFICER, Role.COMMANDER, Role.ADMIN, Role.AUDITOR}),
    "roster.edit": frozenset({Role.DUTY_OFFICER, Role.COMMANDER, Role.ADMIN}),
    "workload.view": frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.COMMANDER, Role.ADMIN}),
    "account.manage": frozenset({Role.ADMIN}),
}

# Whether a role needs to see identity numbers, phones and addresses in full to do its work.
UNMASKED_ROLES = frozenset({Role.DUTY_OFFICER, Role.TEAM_LEADER, Role.FIELD_STAFF, Role.CDC_EXPERT})

ROLE_HOME_TITLES = {
    Role.DUTY_OFFICER: _("Duty desk"),
    Role.TEAM_LEADER: _("Team"),
    Role.FIELD_STAFF: _("My tasks"),
    Role.CDC_EXPERT: _("Review queue"),
    Role.COMMANDER: _("Command overview"),
    Role.AUDITOR: _("Audit"),
    Role.ADMIN: _("Administration"),
}


def can(user, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.role in CAPABILITIES[capability]
