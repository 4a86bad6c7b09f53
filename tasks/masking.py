"""The masking policy: one table of the fields that hold personal data, applied by every serializer,
page, export and PDF (DESIGN "Personal data").

Roles in roles.UNMASKED_ROLES (duty officer, team leader, field staff, CDC expert) work with the
person and see these fields in full; every other role (commander, auditor, administrator) sees them
masked, and a role that needs a value in full asks for it with a reason (reveal, logged).

`PERSONAL_FIELDS` names, per kind of record, each field holding personal data and how it is masked.
A serializer or page calls `mask_record(record, data, unmasked=..., division_name=...)` on the dict it
is about to show; tests walk the same table (tests/test_security_masking.py), so a field added here is
checked for every role, and a serializer that forgets the call fails there.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from enum import StrEnum
from typing import Any

from .roles import UNMASKED_ROLES


def sees_unmasked(user: Any) -> bool:
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


def mask_vehicle(value: str) -> str:
    """`琼A12345` → `琼A***`: the region of a plate (or the line of a train or flight) stays, the rest
    would identify the vehicle and, with the seat, the person."""
    if not value:
        return ""
    return value[:2] + "***" if len(value) > 2 else "***"


def mask_hidden(value: Any) -> str:
    """Free text about other people (companions with their phones) or a seat: only whether there is one."""
    return "***" if value else ""


def mask_coordinate(value: Any) -> None:
    """Coordinates locate a home to the metre: none at all for a masked role."""
    return None


class Kind(StrEnum):
    NAME = "name"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    COORDINATE = "coordinate"
    VEHICLE = "vehicle"
    SEAT = "seat"
    COMPANIONS = "companions"


MASKERS: dict[Kind, Callable[..., Any]] = {
    Kind.NAME: mask_name,
    Kind.ID_NUMBER: mask_id_number,
    Kind.PHONE: mask_phone,
    Kind.ADDRESS: mask_address,
    Kind.COORDINATE: mask_coordinate,
    Kind.VEHICLE: mask_vehicle,
    Kind.SEAT: mask_hidden,
    Kind.COMPANIONS: mask_hidden,
}

# Field names as the records are shown (serializer keys, report snapshot keys).
PERSONAL_FIELDS: dict[str, dict[str, Kind]] = {
    "person": {"name": Kind.NAME, "id_number": Kind.ID_NUMBER, "phone": Kind.PHONE, "address": Kind.ADDRESS},
    "task": {"address": Kind.ADDRESS},
    "radius": {"address": Kind.ADDRESS, "latitude": Kind.COORDINATE, "longitude": Kind.COORDINATE},
    "trajectory": {
        "address": Kind.ADDRESS,
        "latitude": Kind.COORDINATE,
        "longitude": Kind.COORDINATE,
        "vehicle_number": Kind.VEHICLE,
        "seat": Kind.SEAT,
        "companions": Kind.COMPANIONS,
    },
    "contact": {"name": Kind.NAME, "id_number": Kind.ID_NUMBER, "phone": Kind.PHONE, "address": Kind.ADDRESS},
    "registration": {"address": Kind.ADDRESS},
    # The investigation report's snapshot (reports/services.report_snapshot) names some fields its own way.
    "report_trajectory": {
        "address": Kind.ADDRESS,
        "vehicle": Kind.VEHICLE,
        "seat": Kind.SEAT,
        "companions": Kind.COMPANIONS,
    },
}


def mask_value(kind: Kind, value: Any, division_name: str = "") -> Any:
    if kind is Kind.ADDRESS:
        return mask_address(value or "", division_name)
    return MASKERS[kind]("" if value is None else value)


def mask_record(
    record: str, data: MutableMapping[str, Any], *, unmasked: bool, division_name: str = ""
) -> MutableMapping[str, Any]:
    """`data` (a serializer's or page's dict of one `record`) with its personal fields masked unless
    `unmasked`. Changes `data` in place and returns it."""
    if unmasked:
        return data
    for field, kind in PERSONAL_FIELDS[record].items():
        if field in data:
            data[field] = mask_value(kind, data[field], division_name)
    return data
