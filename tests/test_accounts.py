import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from tasks.accounts import account_activate, account_create, activation_code_issue
from tasks.models import Role, User
from tasks.roles import CAPABILITIES, can


def test_create_account_with_password(hainan, capsys):
    call_command(
        "create_account",
        "wang",
        "--role",
        "field_staff",
        "--division",
        "460105001001",
        "--password",
        "Village-Staff-77",
    )
    user = User.objects.get(username="wang")
    assert user.role == Role.FIELD_STAFF and user.division_id == "460105001001" and user.is_active
    assert user.check_password("Village-Staff-77")
    assert "Created wang" in capsys.readouterr().out


def test_create_account_accepts_the_padded_12_digit_code(hainan):
    call_command(
        "create_account",
        "li",
        "--role",
        "duty_officer",
        "--division",
        "460105000000",
        "--password",
        "Duty-Officer-77",
    )
    assert User.objects.get(username="li").division_id == "460105"


def test_create_account_with_activation_prints_a_single_use_code(hainan, capsys):
    call_command("create_account", "zhao", "--role", "cdc_expert", "--division", "460105", "--activation")
    out = capsys.readouterr().out
    code = out.split("Activation code (single use, expires): ")[1].split()[0]
    user = User.objects.get(username="zhao")
    assert not user.is_active and not user.has_usable_password()
    account_activate(username="zhao", code=code, password="Expert-Review-2026")
    user.refresh_from_db()
    assert user.is_active and user.check_password("Expert-Review-2026")
    with pytest.raises(ValidationError, match="not valid or has expired"):
        account_activate(username="zhao", code=code, password="Another-Password-2026")


@pytest.fixture(autouse=True)
def english():
    """Service messages are checked in English; the pages are checked in Chinese elsewhere."""
    from django.utils import translation

    with translation.override("en"):
        yield


ISSUED = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("offset", "works"), [(dt.timedelta(seconds=-1), True), (dt.timedelta(seconds=1), False)]
)
def test_an_activation_code_expires(hainan, settings, offset, works):
    user = account_create(username="qian", role="commander", division_code="4601")
    with time_machine.travel(ISSUED, tick=False):
        code = activation_code_issue(user=user)
    with time_machine.travel(ISSUED + settings.ACTIVATION_CODE_TTL + offset, tick=False):
        if works:
            account_activate(username="qian", code=code, password="Commander-Pass-2026")
        else:
            with pytest.raises(ValidationError, match="not valid or has expired"):
                account_activate(username="qian", code=code, password="Commander-Pass-2026")
    user.refresh_from_db()
    assert user.is_active is works


def test_a_new_code_invalidates_the_previous_one(hainan):
    user = account_create(username="zhou", role="auditor", division_code="46")
    first = activation_code_issue(user=user)
    activation_code_issue(user=user)
    with pytest.raises(ValidationError):
        account_activate(username="zhou", code=first, password="Auditor-Pass-2026")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x1", "--role", "wizard", "--division", "46", "--password", "Xx-123456789"], "invalid choice"),
        (
            ["x2", "--role", "admin", "--division", "469999", "--password", "Xx-123456789"],
            "no division has code 469999",
        ),
        (["x3", "--role", "admin", "--division", "46A", "--password", "Xx-123456789"], "only digits"),
        (["x4", "--role", "admin", "--division", "46", "--password", "123"], "password"),
    ],
)
def test_create_account_refuses_bad_input_naming_the_field(hainan, args, message):
    with pytest.raises((CommandError, SystemExit)) as excinfo:
        call_command("create_account", *args)
    if isinstance(excinfo.value, CommandError):
        assert message in str(excinfo.value)
    assert not User.objects.filter(username=args[0]).exists()


def test_one_person_one_account_usernames_are_unique_case_insensitively(hainan):
    account_create(username="Wu", role="admin", division_code="46", password="Admin-Pass-2026")
    with pytest.raises(ValidationError, match="already exists"):
        account_create(username="wu", role="admin", division_code="46", password="Admin-Pass-2026")


def test_the_activation_page_activates_an_account(client, hainan):
    user = account_create(username="feng", role="team_leader", division_code="460105001")
    code = activation_code_issue(user=user)
    response = client.post(
        reverse("activate"),
        {
            "username": "feng",
            "code": code.lower(),
            "password": "Team-Leader-2026",
            "password_again": "Team-Leader-2026",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.login(username="feng", password="Team-Leader-2026")


def test_the_activation_page_shows_why_it_refused(client, hainan):
    response = client.post(
        reverse("activate"),
        {
            "username": "nobody",
            "code": "AAAA-BBBB-CCCC",
            "password": "Xy-2026-abcdef",
            "password_again": "Xy-2026-abcdef",
        },
    )
    assert response.status_code == 200
    assert "not valid or has expired" in response.content.decode() or "无效" in response.content.decode()


def test_every_capability_names_real_roles():
    for roles in CAPABILITIES.values():
        assert roles <= set(Role.values)


def test_can_refuses_inactive_and_anonymous(field_staff):
    from django.contrib.auth.models import AnonymousUser

    assert can(field_staff, "task.receive")
    assert not can(field_staff, "lead.create")
    assert not can(AnonymousUser(), "task.view")
    field_staff.is_active = False
    assert not can(field_staff, "task.receive")


def test_seed_demo_creates_one_account_per_role_idempotently(hainan, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert sorted(
        User.objects.filter(
            username__in=["duty", "leader", "field", "expert", "commander", "auditor", "admin"]
        ).values_list("role", flat=True)
    ) == sorted(Role.values)
    assert "Demo-Tracing-2026" in capsys.readouterr().out
