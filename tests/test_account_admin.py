"""Account administration in the app: scope of every action, changes in the audit log, bulk onboarding
from a CSV, activation slips (PDF), the activation rate, and activation with a slip's code."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from tasks import account_admin as svc
from tasks.accounts import account_activate
from tasks.models import ActivationCode, ApiToken, Role, Unit, UnitMembership, User
from tests.account_fixtures import home_county_account, other_county_account
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STAFF_CSV = (
    "name,phone,role,division_code\n"
    "网格员一,13800000001,field_staff,460105001001\n"
    "网格员二,13800000002,网格员,460105001002\n"
    "队长三,13800000003,team_leader,460105001\n"
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin_client(client, county_admin, password):
    from django.conf import settings

    client.login(username=county_admin.username, password=password)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _changes(account: User) -> list[dict]:
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_pk=str(account.pk)
    ).order_by("id")
    return [entry.changes_dict for entry in entries]


# --- who may ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "account_list",
        "account_create",
        "account_onboard",
        "account_activation_export",
        "account_onboard_slips",
    ],
)
def test_only_the_administrator_role_manages_accounts(client, duty_officer, password, url):
    client.login(username=duty_officer.username, password=password)
    assert client.get(reverse(url)).status_code == 403


def test_the_admin_page_and_nav_entry_are_for_administrators(admin_client, duty_officer):
    response = admin_client.get(reverse("account_list"))
    assert response.status_code == 200
    assert any(link["name"] == "account_list" for link in response.context["nav_links"])
    from django.conf import settings

    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    home = admin_client.get(reverse("home"))
    assert "账号管理" in home.content.decode()


def test_the_list_shows_only_the_territory_and_keeps_filters(admin_client, county_admin):
    own, other = home_county_account(), other_county_account()
    leader = UserFactory(role=Role.TEAM_LEADER, division_id="460105001", full_name="队长")
    response = admin_client.get(reverse("account_list"))
    shown = list(response.context["accounts"])
    assert own in shown and leader in shown and county_admin in shown and other not in shown
    response = admin_client.get(reverse("account_list"), {"role": "team_leader", "status": ""})
    assert list(response.context["accounts"]) == [leader]
    assert "role=team_leader" in response.context["keep"]
    # An unknown filter value is "all", never an error.
    response = admin_client.get(
        reverse("account_list"), {"role": "nonsense", "status": "x", "division": "abc"}
    )
    assert response.status_code == 200 and own in list(response.context["accounts"])
    response = admin_client.get(reverse("account_list"), {"status": "pending"})
    assert own not in list(response.context["accounts"])


@pytest.mark.parametrize(
    "name",
    [
        "account_edit",
        "account_deactivate",
        "account_reactivate",
        "account_reset_second_factor",
        "account_slip",
    ],
)
def test_every_action_on_an_account_outside_the_territory_is_404(admin_client, name):
    other = other_county_account()
    method = admin_client.get if name == "account_edit" else admin_client.post
    assert method(reverse(name, kwargs={"pk": other.pk})).status_code == 404
    other.refresh_from_db()
    assert other.is_active


def test_a_superuser_is_never_listed_nor_editable(admin_client):
    root = User.objects.create_superuser("root", password="Root-Password-2026")
    assert admin_client.get(reverse("account_edit", kwargs={"pk": root.pk})).status_code == 404


# --- create and change --------------------------------------------------------------------------------


def test_create_makes_an_inactive_account_with_a_code_and_a_unit(admin_client, county_admin):
    response = admin_client.post(
        reverse("account_create"),
        {
            "full_name": "新网格员",
            "username": "",
            "role": "field_staff",
            "division": "460105001001",
            "phone": "13900000009",
        },
    )
    assert response.status_code == 200
    account = User.objects.get(username="13900000009")
    assert not account.is_active and not account.has_usable_password()
    assert ActivationCode.objects.filter(user=account, purpose="activation").count() == 1
    assert (
        UnitMembership.objects.filter(user=account, unit__kind=Unit.Kind.SUBUNIT).exists()
        == Unit.objects.filter(kind="subunit", division_id="460105001001").exists()
    )
    entry = LogEntry.objects.filter(object_pk=str(account.pk), action=LogEntry.Action.CREATE).get()
    assert entry.actor == county_admin


def test_create_refuses_a_scope_wider_or_outside_the_administrators(admin_client):
    for code, word in (("4601", "outside your territory"), ("460106", "outside your territory")):
        response = admin_client.post(
            reverse("account_create"),
            {"full_name": "甲", "username": "wide", "role": "duty_officer", "division": code, "phone": ""},
        )
        assert response.status_code == 200
        assert word in " ".join(response.context["form"].errors["division"])
    assert not User.objects.filter(username="wide").exists()


def test_change_role_and_scope_is_audited_with_old_and_new_values(admin_client, county_admin):
    account = home_county_account()
    response = admin_client.post(
        reverse("account_edit", kwargs={"pk": account.pk}),
        {
            "full_name": account.full_name,
            "role": "team_leader",
            "division": "460105001",
            "phone": account.phone,
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.role == Role.TEAM_LEADER and account.division_id == "460105001"
    last = _changes(account)[-1]
    assert last["role"] == ["field_staff", "team_leader"]
    assert last["division"] == ["460105001002", "460105001"]
    assert LogEntry.objects.filter(object_pk=str(account.pk)).latest("id").actor == county_admin
    # The page shows the change in words, old → new.
    page = admin_client.get(reverse("account_edit", kwargs={"pk": account.pk})).content.decode()
    assert "field staff → team leader" in page


def test_change_cannot_move_an_account_outside_nor_change_ones_own_role(admin_client, county_admin):
    account = home_county_account()
    response = admin_client.post(
        reverse("account_edit", kwargs={"pk": account.pk}),
        {"full_name": "x", "role": "field_staff", "division": "460106001002", "phone": ""},
    )
    assert response.status_code == 200 and "division" in response.context["form"].errors
    response = admin_client.post(
        reverse("account_edit", kwargs={"pk": county_admin.pk}),
        {"full_name": "x", "role": "duty_officer", "division": "460105", "phone": ""},
    )
    assert response.status_code == 200 and "role" in response.context["form"].errors
    county_admin.refresh_from_db()
    assert county_admin.role == Role.ADMIN


def test_deactivate_and_reactivate(admin_client, county_admin):
    account = home_county_account()
    ApiToken.objects.all().delete()
    admin_client.post(reverse("account_deactivate", kwargs={"pk": account.pk}))
    account.refresh_from_db()
    assert not account.is_active
    assert _changes(account)[-1]["is_active"] == ["True", "False"]
    admin_client.post(reverse("account_reactivate", kwargs={"pk": account.pk}))
    account.refresh_from_db()
    assert account.is_active
    # Not oneself.
    admin_client.post(reverse("account_deactivate", kwargs={"pk": county_admin.pk}))
    county_admin.refresh_from_db()
    assert county_admin.is_active


def test_reactivation_refuses_a_phone_another_active_account_has(admin_client):
    account = home_county_account()
    account.phone = "13700000001"
    account.save()
    admin_client.post(reverse("account_deactivate", kwargs={"pk": account.pk}))
    UserFactory(role=Role.FIELD_STAFF, division_id="460105001001", phone="13700000001")
    admin_client.post(reverse("account_reactivate", kwargs={"pk": account.pk}))
    account.refresh_from_db()
    assert not account.is_active


def test_second_factor_reset_makes_the_owner_enrol_again(
    admin_client, client_factory, county_admin, password
):
    expert = UserFactory(role=Role.CDC_EXPERT, division_id="460105", username="expert1")
    TOTPDevice.objects.create(user=expert, name="default", confirmed=True)
    response = admin_client.post(reverse("account_reset_second_factor", kwargs={"pk": expert.pk}))
    assert response.status_code == 200
    code = response.context["enrolment_code"]
    assert not TOTPDevice.objects.filter(user=expert).exists()
    assert _changes(expert)[-1] == {"second_factor": ["enrolled", "reset"]}
    # At the next login: the code page asks for enrolment, the code opens it.
    owner = client_factory()
    owner.login(username="expert1", password=password)
    page = owner.get(reverse("otp_setup"))
    assert b"enrolment_code" in page.content
    owner.post(reverse("otp_setup"), {"enrolment_code": code})
    assert b"otp_token" in owner.get(reverse("otp_setup")).content


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


# --- bulk onboarding ----------------------------------------------------------------------------------


def _upload(client, text: str, name: str = "staff.csv", encoding: str = "utf-8"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("account_onboard"),
        {
            "action": "preview",
            "file": SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv"),
        },
    )


def test_onboarding_preview_names_row_and_field_and_keeps_the_valid_rows(admin_client):
    existing = UserFactory(role=Role.FIELD_STAFF, division_id="460105001001", phone="13800000009")
    text = STAFF_CSV + (
        ",13800000004,field_staff,460105001001\n"  # line 5: no name
        "乙,12345,field_staff,460105001001\n"  # line 6: bad phone
        "丙,13800000005,pilot,460105001001\n"  # line 7: unknown role
        "丁,13800000006,field_staff,460106001002\n"  # line 8: outside the territory
        "戊,13800000001,field_staff,460105001001\n"  # line 9: phone of line 2
        f"己,{existing.phone},field_staff,460105001001\n"  # line 10: phone of an active account
        "庚,13800000007,field_staff,99\n"  # line 11: no such division
    )
    response = _upload(admin_client, text)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [row.line for row in preview.valid] == [2, 3, 4]
    errors = {row.line: row.errors for row in preview.rejected}
    assert set(errors) == {5, 6, 7, 8, 9, 10, 11}
    assert list(errors[5]) == ["name"]
    assert list(errors[6]) == ["phone"]
    assert list(errors[7]) == ["role"]
    assert "outside your territory" in errors[8]["division_code"][0]
    assert "line 2" in errors[9]["phone"][0]
    assert "another active account" in errors[10]["phone"][0]
    assert "no division" in errors[11]["division_code"][0]
    assert not User.objects.filter(username__startswith="138000000").exists()  # nothing written yet
    body = response.content.decode()
    assert "work phone" in body and "division code" in body  # fields named in words

    response = admin_client.post(
        reverse("account_onboard"), {"action": "confirm", "token": response.context["token"]}
    )
    assert response.status_code == 200
    created = User.objects.filter(username__in=["13800000001", "13800000002", "13800000003"])
    assert created.count() == 3 and not created.filter(is_active=True).exists()
    assert {u.role for u in created} == {Role.FIELD_STAFF, Role.TEAM_LEADER}
    assert (
        ActivationCode.objects.filter(user__in=created, purpose="activation", used_at__isnull=True).count()
        == 3
    )
    entry = LogEntry.objects.get(object_pk=str(created.get(username="13800000003").pk))
    assert entry.action == LogEntry.Action.CREATE and entry.changes_dict["role"] == ["None", "team_leader"]


def test_onboarding_reads_gb18030_and_reports_missing_columns(admin_client):
    response = _upload(admin_client, STAFF_CSV, encoding="gb18030")
    assert len(response.context["preview"].valid) == 3
    response = _upload(admin_client, "name,phone\n甲,13800000001\n")
    assert "role, division_code" in " ".join(response.context["form"].errors["file"])
    response = _upload(admin_client, STAFF_CSV, name="staff.xlsx")
    assert response.context["form"].errors["file"]


def test_an_expired_preview_is_refused_without_writing(admin_client):
    response = admin_client.post(reverse("account_onboard"), {"action": "confirm", "token": "nope"})
    assert response.status_code == 302
    assert not User.objects.filter(username="13800000001").exists()


def _pdf_text(pdf: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "slips.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_slips_pdf_holds_every_code_and_the_codes_activate(admin_client, tmp_path):
    response = _upload(admin_client, STAFF_CSV)
    response = admin_client.post(
        reverse("account_onboard"), {"action": "confirm", "token": response.context["token"]}
    )
    created = response.context["created"]
    response = admin_client.get(reverse("account_onboard_slips"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content, tmp_path)
    for account, code in created:
        assert code in text
        assert account.username in text
        assert account.full_name in text  # CJK names survive (embedded Noto Sans CJK)
    assert "秀英区" in text
    account, code = created[0]
    account_activate(username=account.username, code=code, password="Grid-Worker-2026!")
    account.refresh_from_db()
    assert account.is_active


def test_a_new_slip_replaces_the_old_code(admin_client, tmp_path):
    response = _upload(admin_client, STAFF_CSV)
    response = admin_client.post(
        reverse("account_onboard"), {"action": "confirm", "token": response.context["token"]}
    )
    account, old_code = response.context["created"][0]
    response = admin_client.post(reverse("account_slip", kwargs={"pk": account.pk}))
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content, tmp_path)
    assert old_code not in text
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        account_activate(username=account.username, code=old_code, password="Grid-Worker-2026!")


def test_the_slip_url_opens_the_activation_form_filled_in(client, hainan):
    url = svc.activation_url("http://testserver/", User(username="13800000001"), "ABCD-EFGH-JKLM")
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["username"].value() == "13800000001" and form["code"].value() == "ABCD-EFGH-JKLM"


def test_activation_with_the_slip_code_end_to_end(admin_client, client_factory):
    response = _upload(admin_client, STAFF_CSV)
    response = admin_client.post(
        reverse("account_onboard"), {"action": "confirm", "token": response.context["token"]}
    )
    account, code = response.context["created"][0]
    visitor = client_factory()
    response = visitor.post(
        svc.activation_url("http://testserver/", account, code),
        {
            "username": account.username,
            "code": code,
            "password": "Grid-Worker-2026!",
            "password_again": "Grid-Worker-2026!",
        },
    )
    assert response.status_code == 302
    assert visitor.login(username=account.username, password="Grid-Worker-2026!")
    assert visitor.get(reverse("field_tasks")).status_code == 200


# --- activation rate ----------------------------------------------------------------------------------


def test_the_activation_rate_per_county_and_township(admin_client, county_admin, tmp_path):
    response = _upload(admin_client, STAFF_CSV)
    response = admin_client.post(
        reverse("account_onboard"), {"action": "confirm", "token": response.context["token"]}
    )
    created = {a.username: c for a, c in response.context["created"]}
    account_activate(username="13800000001", code=created["13800000001"], password="Grid-Worker-2026!")
    # Another county's onboarding is not counted.
    other = other_county_account()
    svc.activation_codes_issue(admin=county_admin, accounts=[User(pk=other.pk, is_active=False)])

    rows, total = svc.activation_rate(county_admin, level="county")
    assert [(r.code, r.onboarded, r.activated) for r in rows] == [("460105", 3, 1)]
    assert total.percent == "33.3%"
    rows, _total = svc.activation_rate(county_admin, level="township")
    assert [(r.code, r.onboarded, r.activated) for r in rows] == [("460105001", 3, 1)]

    page = admin_client.get(reverse("account_list"))
    assert page.context["rate_total"].activated == 1
    export = admin_client.get(reverse("account_activation_export"), {"level": "county"})
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "460105" in text and "33.3%" in text and "460106" not in text


# --- notifications to the field team ------------------------------------------------------------------


def test_a_returned_task_notifies_its_assignee(field_staff, cdc_expert):
    from reviews.models import Review
    from reviews.services import review_return
    from tasks import notify
    from tasks.models import Notification
    from tests.fieldwork_helpers import dispatched_task

    task = dispatched_task(field_staff)
    task.status = "submitted"
    task.save(update_fields=["status"])
    review = Review.objects.create(task=task)
    review_return(review=review, actor=cdc_expert, reasons="轨迹时间不连续")
    note = Notification.objects.get(recipient=field_staff, kind=Notification.Kind.RETURNED)
    subject, body = notify.render(note)
    assert f"T{task.pk}" in subject and "轨迹时间不连续" in body


def test_an_accepted_transfer_notifies_the_new_assignee(duty_officer, field_staff, hainan):
    from tasks.models import Notification
    from tasks.workflow import task_transfer, task_transfer_accept
    from tests.fieldwork_helpers import dispatched_task

    task = dispatched_task(field_staff)
    # The receiving village: a sub-unit with one member.
    target = "460105001002"
    unit, _ = Unit.objects.get_or_create(kind="subunit", division_id=target, defaults={"name": "二村分队"})
    worker = UserFactory(role=Role.FIELD_STAFF, division_id=target)
    UnitMembership.objects.create(unit=unit, user=worker)
    Unit.objects.get_or_create(kind="team", division_id=target[:9], defaults={"name": "队"})
    task_transfer(task=task, actor=field_staff, division_code=target, reason="人已离开")
    task_transfer_accept(task=task, actor=duty_officer)
    task.refresh_from_db()
    assert task.status == "dispatched"
    assert Notification.objects.filter(
        recipient=worker, kind=Notification.Kind.TRANSFERRED, task=task
    ).exists()
