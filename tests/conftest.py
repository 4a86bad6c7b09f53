"""Shared fixtures: the real Hainan territory, and one account per role (healthchecks' alice/bob/charlie).

Territory: 秀英区 (county 460105) in 海口市 is home; 龙华区 (460106) is "another county".
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from tasks.models import Division, Role
from tests.factories import DEFAULT_PASSWORD, UserFactory

# Fixture modules shared by several test files, registered here instead of imported by name (an import
# of a fixture is shadowed by the test parameter of the same name).
pytest_plugins = [
    "tests.workflow_fixtures",
    "tests.review_fixtures",
    "tests.notice_fixtures",
    "tests.monitoring_fixtures",
    "tests.broker_fixtures",
    "tests.order_fixtures",
    "tests.labs_fixtures",
    "tests.account_fixtures",
]

HAINAN_CSV = Path(__file__).resolve().parent.parent / "tasks" / "data" / "hainan.csv"
HOME_COUNTY = "460105"
HOME_TOWNSHIP = "460105001"
HOME_VILLAGE = "460105001001"
OTHER_VILLAGE_SAME_TOWNSHIP = "460105001002"
OTHER_COUNTY = "460106"


def _ensure_territory() -> None:
    if not Division.objects.filter(code="46").exists():
        call_command("load_divisions", str(HAINAN_CSV), "--with-teams", verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _ensure_territory()


@pytest.fixture
def hainan(db):
    """The Hainan territory, loaded (again, after a transactional test flushed it) when missing.

    Depends on `db` statically, so pytest-django always sets up the test database first; for tests
    that also use `transactional_db` or `live_server`, pytest-django makes `db` transactional."""
    from django.db import connection

    # Never touch a development database: the suite only ever runs against pytest-django's test_ copy.
    assert connection.settings_dict["NAME"].startswith("test_"), connection.settings_dict["NAME"]
    _ensure_territory()
    return Division.objects.get(code="46")


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def duty_officer(hainan):
    return UserFactory(
        username="alice", full_name="值班员甲", role=Role.DUTY_OFFICER, division_id=HOME_COUNTY
    )


@pytest.fixture
def field_staff(hainan):
    return UserFactory(username="bob", full_name="网格员乙", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)


@pytest.fixture
def team_leader(hainan):
    return UserFactory(username="tina", full_name="队长丁", role=Role.TEAM_LEADER, division_id=HOME_TOWNSHIP)


@pytest.fixture
def cdc_expert(hainan):
    return UserFactory(username="erin", full_name="专家戊", role=Role.CDC_EXPERT, division_id=HOME_COUNTY)


@pytest.fixture
def commander(hainan):
    return UserFactory(username="cora", full_name="指挥己", role=Role.COMMANDER, division_id="4601")


@pytest.fixture
def outsider(hainan):
    """A duty officer of another county: for them, home-county records do not exist."""
    return UserFactory(
        username="charlie", full_name="外区值班员", role=Role.DUTY_OFFICER, division_id=OTHER_COUNTY
    )


@pytest.fixture
def auditor(hainan):
    """A county auditor of the home county (two-factor role)."""
    return UserFactory(username="audrey", full_name="审计员庚", role=Role.AUDITOR, division_id=HOME_COUNTY)


@pytest.fixture(autouse=True)
def _site_language_after_each_test():
    """A request with Accept-Language (or a language cookie) leaves its language active in the thread
    after the response; reset it so that no test runs in the language an earlier one happened to ask for."""
    yield
    from django.utils import translation

    translation.deactivate()


# ---- Security (issue 9): HTTPS settings, two-factor login in tests ------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _plain_http_for_tests():
    """The suite runs with DEBUG off (production defaults), but the test client and live_server speak
    plain HTTP: no redirect to HTTPS, cookies without the Secure flag. tests/test_security_http.py
    checks the production values with `check --deploy` in a separate process."""
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # A browser would otherwise fetch live_server's pages and static files over https.
    settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].pop("upgrade-insecure-requests", None)
    # Shared workload answers would carry one test's figures into the next, and refresh them in a
    # background thread of the test process; a test of the sharing sets the interval itself.
    settings.WORKLOAD_CACHE_SECONDS = 0


def complete_second_factor(client, user) -> None:
    """Mark `client`'s session as having passed the second factor, through django_otp's own login()."""
    from django.http import HttpRequest
    from django_otp import login as otp_login

    from tasks.twofactor import ensure_confirmed_device

    device = ensure_confirmed_device(user)
    session = client.session
    request = HttpRequest()
    request.session = session
    request.user = user
    otp_login(request, device)
    session.save()


class _SecondFactorMixin:
    """`login()` / `force_login()` also complete the second factor for the roles that need one, so
    tests written before two-factor login keep working. Use `unverified_client` to test the factor."""

    def _verify_second_factor(self):
        from django.contrib.auth import SESSION_KEY

        from tasks.models import User
        from tasks.security import otp_required

        user_id = self.session.get(SESSION_KEY)
        user = User.objects.filter(pk=user_id).first() if user_id else None
        if user is not None and otp_required(user):
            complete_second_factor(self, user)

    def login(self, **credentials):
        ok = super().login(**credentials)
        if ok:
            self._verify_second_factor()
        return ok

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        self._verify_second_factor()


def _verified_client_class():
    from django.test import Client

    return type("VerifiedClient", (_SecondFactorMixin, Client), {})


@pytest.fixture
def client():
    """Django's test client whose login() also passes the second factor (see _SecondFactorMixin)."""
    return _verified_client_class()()


@pytest.fixture
def unverified_client():
    """Django's plain test client: login() gives a password-only session, as the login page does."""
    from django.test import Client

    return Client()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return type("VerifiedAPIClient", (_SecondFactorMixin, APIClient), {})()


def totp_now(user) -> str:
    """The current TOTP code of `user` (a confirmed device is created when there is none): for browser
    tests, type it on the code page after the password. The code is one the device still accepts (codes are single-use)."""
    from tasks.twofactor import current_code, ensure_confirmed_device

    return current_code(ensure_confirmed_device(user))
