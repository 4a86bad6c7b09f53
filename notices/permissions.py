"""Who may do what with notices. Review levels are derived from the account, not from new capabilities
in tasks/roles.py: a duty officer scoped to a county (6-digit code) is the county desk, one scoped to a
city (4 digits) the city desk. A superuser may act at both levels but never both on one notice (the
review service refuses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.models import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tasks.models import User

    AnyUser = User | AnonymousUser


STAFF_ROLES = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.COMMANDER, Role.AUDITOR, Role.ADMIN}


def desk_level(user: AnyUser) -> str | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.role == Role.DUTY_OFFICER and user.division_id:
        return {6: "county", 4: "city"}.get(len(user.division_id))
    return None


def can_review(user: AnyUser, level: str) -> bool:
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return desk_level(user) == level


def can_edit_templates(user: AnyUser) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or user.role == Role.ADMIN)
    )


def can_run_rules(user: AnyUser) -> bool:
    return can_review(user, "county") or can_review(user, "city")
