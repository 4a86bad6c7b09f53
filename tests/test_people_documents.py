"""Identity documents beyond the resident ID, and phones beyond mainland mobiles, through the lead API
and the intake batch (tasks/validation.py `clean_document`, `clean_phone`)."""

from unittest import mock

import pytest
from django.db import connection

from tasks.intake import intake_run
from tasks.models import Lead, Person, TracingTask
from tasks.validation import clean_phone, id_check_digit, id_number_hash
from tests.intake_helpers import lead, resident_id

LEADS = "/api/v1/leads/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_dispatch():
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


@pytest.fixture
def api(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return api_client


def foreign_2023(first17: str = "93115619850312123") -> str:
    return first17 + id_check_digit(first17)


def with_check(first17: str) -> str:
    return first17 + id_check_digit(first17)


ACCEPTED = [
    ("resident_id", resident_id(), None),
    ("passport", "E12345678", "E12345678"),
    ("passport", "ea 1234567", "EA1234567"),
    ("passport", "K1234567", "K1234567"),
    ("hk_macao_permit", "H12345678", "H12345678"),
    ("hk_macao_permit", "m1234567890", "M1234567890"),
    ("taiwan_permit", "1234 5678", "12345678"),
    ("foreign_permanent_resident", "USA123456789012", "USA123456789012"),
    ("foreign_permanent_resident", foreign_2023(), foreign_2023()),
    ("other", "军官证 第12345号", "军官证 第12345号"),
]


@pytest.mark.parametrize(("id_type", "raw", "stored"), ACCEPTED)
def test_each_document_type_is_accepted(api, id_type, raw, stored):
    response = api.post(
        LEADS, [lead(id_type=id_type, id_number=raw, external_id=f"ok-{id_type}")], format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["accepted"] == 1, response.json()["rejected"]
    saved = Lead.objects.get()
    assert saved.id_type == id_type and saved.id_number == (stored or raw)
    with connection.cursor() as cursor:  # encrypted at rest like a resident ID
        cursor.execute("SELECT id_number FROM tasks_lead")
        assert cursor.fetchone()[0].startswith("e1:")


REJECTED = [
    ("passport", "E123", "id_number", "a passport number has 5 to 9 letters and digits"),
    ("passport", "E1234567890", "id_number", "a passport number has 5 to 9 letters and digits"),
    ("passport", "ABCDEFGH", "id_number", "a passport number has 5 to 9 letters and digits"),
    ("hk_macao_permit", "X12345678", "id_number", "H or M followed by 8 or 10 digits"),
    ("hk_macao_permit", "H123456789", "id_number", "H or M followed by 8 or 10 digits"),
    ("taiwan_permit", "1234567", "id_number", "a Taiwan permit number has 8 digits"),
    ("foreign_permanent_resident", "US1234567890123", "id_number", "3 letters and 12 digits"),
    (
        "foreign_permanent_resident",
        foreign_2023()[:17] + ("0" if foreign_2023()[17] != "0" else "1"),
        "id_number",
        "check digit should be",
    ),
    ("foreign_permanent_resident", with_check("83115619850312123"), "id_number", "starts with 9"),
    ("other", "x" * 31, "id_number", "at most 30 characters"),
    ("resident_id", with_check("00000019900101123"), "id_number", "region 000000 is not"),
    ("resident_id", with_check("99999919900101123"), "id_number", "region 999999 is not"),
    ("resident_id", "11010519491231002Y", "id_number", "only digits"),
    ("driving_licence", "12345", "id_type", "unknown document type driving_licence"),
    ("passport", "", "id_number", "required with id_type passport"),
]


@pytest.mark.parametrize(("id_type", "raw", "field", "reason"), REJECTED)
def test_a_bad_document_is_rejected_with_the_field_and_the_reason(api, id_type, raw, field, reason):
    row = lead(id_type=id_type, id_number=raw or None, phone="13912345678", external_id="bad-1")
    response = api.post(LEADS, [row], format="json")
    assert response.status_code == 200  # nothing accepted
    (rejected,) = response.json()["rejected"]
    assert list(rejected["errors"]) == [field]
    assert reason in rejected["errors"][field][0]
    assert Lead.objects.count() == 0


def test_a_resident_id_of_an_unknown_region_is_accepted_with_a_warning_flag(api):
    # Only Hainan is loaded: a Beijing ID's region (110105) is not among the division codes.
    rows = [
        lead(id_number=resident_id(region="110105"), external_id="beijing"),
        lead(id_number=resident_id(region="460105"), external_id="haikou"),
        lead(id_number=resident_id(region="460100"), external_id="haikou-city"),
    ]
    response = api.post(LEADS, rows, format="json")
    assert response.json()["accepted"] == 3
    flags = dict(Lead.objects.values_list("external_id", "id_region_unknown"))
    assert flags == {"beijing": True, "haikou": False, "haikou-city": False}


def test_a_resident_id_still_hashes_as_before_document_types():
    id_number = resident_id()
    from tasks.leads_io import ingest_rows

    ingest_rows([lead(id_number=id_number)], channel="api")
    saved = Lead.objects.get()
    assert saved.id_type == "resident_id"
    assert (
        saved.id_number_hash == id_number_hash(id_number) and saved.person_key == "id:" + saved.id_number_hash
    )


def test_the_same_passport_from_two_sources_becomes_one_task(api):
    rows = [
        lead(
            source="big_data",
            id_type="passport",
            id_number="E12345678",
            name="JOHN SMITH",
            division_code=None,
            address="海口市秀英区长流镇长东村",
        ),
        lead(
            source="hotline", id_type="passport", id_number="e1234 5678", name="约翰", phone="+852 9123 4567"
        ),
    ]
    assert api.post(LEADS, rows, format="json").json()["accepted"] == 2
    batch = intake_run()
    assert batch.new_tasks == 1 and TracingTask.objects.count() == 1
    person = Person.objects.get()
    assert (person.id_type, person.id_number, person.phone) == ("passport", "E12345678", "+85291234567")


def test_the_same_number_on_two_document_types_is_two_people(api):
    rows = [
        lead(id_type="taiwan_permit", id_number="12345678"),
        lead(id_type="other", id_number="12345678"),
    ]
    assert api.post(LEADS, rows, format="json").json()["accepted"] == 2
    intake_run()
    assert TracingTask.objects.count() == 2


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13912345678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("+852 9123 4567", "+85291234567"),
        ("00853 6612 3456", "+85366123456"),
        ("0898-66668888", "+8689866668888"),
        ("010 6552 9988", "+861065529988"),
    ],
)
def test_phones_are_mainland_mobiles_or_e164(raw, stored):
    assert clean_phone(raw) == stored


def test_a_bad_phone_is_rejected_with_the_field_and_the_reason(api):
    response = api.post(LEADS, [lead(phone="12345", external_id="p-1")], format="json")
    (rejected,) = response.json()["rejected"]
    assert list(rejected["errors"]) == ["phone"] and "not a phone number" in rejected["errors"]["phone"][0]


def test_an_international_phone_matches_with_the_name(api):
    rows = [
        lead(id_number=None, phone="+852 9123 4567", name="陈大文"),
        lead(id_number=None, phone="00852-91234567", name="陈大文"),
    ]
    assert api.post(LEADS, rows, format="json").json()["accepted"] == 2
    intake_run()
    assert TracingTask.objects.count() == 1


def test_the_manual_form_takes_a_passport(client, duty_officer):
    from django.urls import reverse

    client.force_login(duty_officer)
    data = {
        "source": "hotline",
        "name": "JOHN SMITH",
        "id_type": "passport",
        "id_number": "E12345678",
        "division_code": "460105001001",
        "reported_at": "2024-05-01T08:00",
        "submission": "0123456789abcdef",
    }
    response = client.post(reverse("intake_manual"), data)
    assert response.status_code == 302, response.context["form"].errors
    assert Lead.objects.get().id_type == "passport"
