"""Walks every URL pattern of the project and checks that an account sees nothing outside its
territory: objects of another village answer 404, lists leave them out.

Every route must be listed in ROUTES; a new route without an entry fails `test_every_route_is_covered`,
so no feature can land without saying how its scope is tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tasks.models import Division, Unit
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP


@dataclass
class Public:
    """Reachable without an account (login, health check, static API docs schema needs login)."""


@dataclass
class AdminOnly:
    """Django admin: staff only; a field account is sent to the admin login."""


@dataclass
class NoObject:
    """Pages and endpoints that show only the caller's own data or none (home, me, logout)."""


@dataclass
class Detail:
    """An object of another village must answer 404."""

    make: Callable[[], object]
    kwargs: Callable[[object], dict]
    method: str = "get"


@dataclass
class ListOf:
    """A list must not contain the other village's objects."""

    make: Callable[[], object]
    key: Callable[[dict], str]
    value: Callable[[object], str]
    # Make a record the account may see, when the default fixtures give it none; None = it sees none.
    own: Callable[[], object] | None = None


def other_village():
    return Division.objects.get(code=OTHER_VILLAGE_SAME_TOWNSHIP)


def other_subunit():
    return Unit.objects.get(kind="subunit", division_id=OTHER_VILLAGE_SAME_TOWNSHIP)


def _shift(division_code):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import DutyShift
    from tests.factories import UserFactory

    desk = Unit.objects.get(kind="duty_desk", division_id=division_code)
    officer = UserFactory(role="duty_officer", division_id=division_code)
    now = timezone.now()
    return DutyShift.objects.create(unit=desk, user=officer, starts_at=now, ends_at=now + timedelta(hours=24))


def other_county_shift():
    return _shift("460106")


def own_shift():
    # A village account sees no duty desk (desks sit at county level and above): nothing of its own.
    return None


ROUTES: dict[str, object] = {
    "login": Public(),
    "logout": NoObject(),
    "set_language": Public(),
    "healthz": Public(),
    "activate": Public(),
    "home": NoObject(),
    "api-schema": NoObject(),
    "api-docs": NoObject(),
    "api-token": Public(),
    "api-me": NoObject(),
    "api-root": NoObject(),
    "division-list": ListOf(other_village, key=lambda row: row["code"], value=lambda d: d.code),
    "division-detail": Detail(other_village, kwargs=lambda d: {"code": d.code}),
    "unit-list": ListOf(other_subunit, key=lambda row: row["id"], value=lambda u: u.id),
    "unit-detail": Detail(other_subunit, kwargs=lambda u: {"pk": u.pk}),
    "dutyshift-list": ListOf(lambda: other_county_shift(), key=lambda row: row["id"], value=lambda s: s.id, own=lambda: own_shift()),
    "dutyshift-detail": Detail(lambda: other_county_shift(), kwargs=lambda s: {"pk": s.pk}),
}


def walk(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or entry.pattern}", entry


def project_routes() -> dict[str, URLPattern]:
    routes = {}
    for name, pattern in walk(get_resolver()):
        if name.startswith("admin:"):
            continue
        # DRF registers a format-suffix twin of every route (same name); one entry covers both.
        routes.setdefault(name, pattern)
    return routes


def test_every_route_is_covered():
    missing = sorted(set(project_routes()) - set(ROUTES))
    assert not missing, f"routes without a scope test entry in tests/test_scope_routes.py: {missing}"


def test_no_stale_entries():
    stale = sorted(set(ROUTES) - set(project_routes()))
    assert not stale, f"entries for routes that no longer exist: {stale}"


def _cases(kind):
    return [pytest.param(name, spec, id=name) for name, spec in ROUTES.items() if isinstance(spec, kind)]


@pytest.mark.parametrize(("name", "spec"), _cases(Detail))
def test_an_object_of_another_village_does_not_exist_for_a_field_account(client, field_staff, password, name, spec):
    from django.urls import reverse

    client.login(username=field_staff.username, password=password)
    obj = spec.make()
    response = getattr(client, spec.method)(reverse(name, kwargs=spec.kwargs(obj)))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "spec"), _cases(ListOf))
def test_a_list_leaves_out_the_other_village(client, field_staff, password, name, spec):
    from django.urls import reverse

    client.login(username=field_staff.username, password=password)
    obj = spec.make()
    own = spec.own() if spec.own else True
    response = client.get(reverse(name), {"page_size": 1000})
    assert response.status_code == 200
    seen = {spec.key(row) for row in response.json()["results"]}
    assert spec.value(obj) not in seen
    if own is not None:
        assert seen, "the list should show the account's own records"


def test_a_field_account_sees_only_its_own_village_in_the_division_list(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    codes = [row["code"] for row in client.get("/api/v1/divisions/").json()["results"]]
    assert codes == [HOME_VILLAGE]


def test_the_admin_is_for_staff_only(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
