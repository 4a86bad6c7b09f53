"""Walks the scope entries of the roster, handover and workload routes (tests/scope_routes_duty_roster.py).

tests/test_scope_routes.py adds them to ROUTES after its parametrised tests were built, so they are
checked for presence there and walked here with the same rules: another county's shift or handover is
404, lists and list pages leave it out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.scope_routes_duty_roster import roster_routes
from tests.test_scope_routes import Detail, ListOf, NoObject, PageList

pytestmark = pytest.mark.django_db
ROUTES = roster_routes(Detail, ListOf, NoObject, PageList)


def _cases(kind):
    return [pytest.param(name, spec, id=name) for name, spec in ROUTES.items() if isinstance(spec, kind)]


@pytest.mark.parametrize(("name", "spec"), _cases(Detail))
def test_another_countys_object_does_not_exist(request, client, password, name, spec):
    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    response = getattr(client, spec.method)(reverse(name, kwargs=spec.kwargs(obj)))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "spec"), _cases(ListOf))
def test_a_list_leaves_out_another_county(request, client, password, name, spec):
    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    own = spec.own() if spec.own else None
    rows = client.get(reverse(name), {"page_size": 1000}).json()["results"]
    seen = {spec.key(row) for row in rows}
    assert spec.value(obj) not in seen
    assert own is None or spec.value(own) in seen


@pytest.mark.parametrize(("name", "spec"), _cases(PageList))
def test_a_page_leaves_out_another_county(request, client, password, name, spec):
    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    own = spec.own() if spec.own else None
    response = client.get(reverse(name))
    assert response.status_code == 200
    shown = list(response.context[spec.context_key])
    assert obj not in shown
    assert own is None or own in shown
