"""DRF permission classes built on roles.can(): views ask for a capability, never a role name."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..models import User
from ..roles import CAPABILITIES, can


def request_user(request: Request) -> User:
    """The account behind a request of an endpoint that requires login (its permission classes ran)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def capability(read: str, write: str | None = None) -> type[BasePermission]:
    """A permission class requiring `read` for safe methods and `write` (default: `read`) otherwise."""
    for name in (read, write):
        if name is not None and name not in CAPABILITIES:
            raise KeyError(f"unknown capability {name!r}")

    class HasCapability(BasePermission):
        message = "Your role may not do this."

        def has_permission(self, request, view) -> bool:
            needed = read if request.method in ("GET", "HEAD", "OPTIONS") else (write or read)
            return can(request.user, needed)

    HasCapability.__name__ = f"Can_{read.replace('.', '_')}"
    return HasCapability
