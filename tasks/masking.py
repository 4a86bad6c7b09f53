"""Masking of personal data by role (DESIGN "Personal data"): roles in roles.UNMASKED_ROLES see identity
numbers, phones and addresses in full; every other role sees them masked."""

from __future__ import annotations

from .roles import UNMASKED_ROLES


def sees_unmasked(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "role", "") in UNMASKED_ROLES


def mask_id_number(value: str) -> str:
    """`460105199001011234` → `4601**********1234`; a 15-digit number keeps the same 4 + 4 digits."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """`13912341234` → `139****1234`."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """`张三丰` → `张**`: the family name only."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_address(value: str, division_name: str = "") -> str:
    """An address reduced to the division it is in (the task's or lead's division name): the street,
    building and room are left out."""
    if not value:
        return ""
    return f"{division_name} ***" if division_name else "***"
