"""Validation of leads: resident IDs (GB 11643), birth dates, mobiles, division codes, required fields,
and the keyed person_key. Reasons must say what to fix."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import override_settings
from django.utils import translation

from tasks.models import Priority, Source
from tasks.validation import (
    LeadValidator,
    clean_id_number,
    clean_mobile,
    id_check_digit,
    name_key,
    person_key,
    upgrade_id15,
)
from tests.intake_helpers import HOME_VILLAGE, lead, resident_id

# Request the test database statically: a test that reaches it only through the `hainan` fixture
# would otherwise run against the development database (pytest-django sets up databases only for
# tests that need them at collection time).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def validate(*rows):
    return LeadValidator().validate(list(rows))


# --- resident ID -----------------------------------------------------------------------------------------


def test_it_accepts_a_valid_18_digit_id():
    assert clean_id_number("11010519491231002X") == ("11010519491231002X", "11010519491231002X")


def test_it_computes_the_mod_11_2_check_digit():
    assert id_check_digit("11010519491231002") == "X"
    assert id_check_digit("44052418800101001") == "4"


def test_it_upper_cases_a_final_lower_case_x():
    assert clean_id_number("11010519491231002x")[0] == "11010519491231002X"


def test_it_trims_whitespace_around_an_id():
    assert clean_id_number("  11010519491231002X ")[0] == "11010519491231002X"


def test_it_names_the_expected_check_digit_when_it_is_wrong():
    with pytest.raises(ValueError, match="check digit should be X, got 3"):
        clean_id_number("110105194912310023")


def test_it_refuses_an_x_anywhere_but_the_end():
    with pytest.raises(ValueError, match="only digits, with X allowed as the last character"):
        clean_id_number("11010519X912310021")


def test_it_refuses_an_impossible_birth_date():
    first17 = "46010519991332001"
    with pytest.raises(ValueError, match="birth date 19991332 is not a date"):
        clean_id_number(first17 + id_check_digit(first17))


@time_machine.travel(datetime(2024, 5, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_refuses_a_birth_date_in_the_future():
    first17 = "46010520300101001"
    with pytest.raises(ValueError, match="birth date 20300101 is in the future"):
        clean_id_number(first17 + id_check_digit(first17))


def test_it_says_how_long_an_id_must_be():
    with pytest.raises(ValueError, match="18 characters .* got 10"):
        clean_id_number("4601051990")


def test_it_accepts_a_legacy_15_digit_id_and_upgrades_it_for_matching():
    given, for_matching = clean_id_number("110105491231002")
    assert given == "110105491231002"
    assert for_matching == "11010519491231002X"
    assert upgrade_id15("110105491231002") == "11010519491231002X"


def test_it_checks_the_birth_date_of_a_15_digit_id():
    with pytest.raises(ValueError, match="birth date 19991332 is not a date"):
        clean_id_number("460105991332001")


def test_a_15_digit_id_and_its_18_digit_upgrade_are_the_same_person(hainan):
    (a, b), rejected = validate(lead(id_number="110105491231002"), lead(id_number="11010519491231002X"))
    assert not rejected
    assert a.person_key == b.person_key and a.person_key.startswith("id:")
    assert a.id_number_hash == b.id_number_hash


# --- phones and names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["13912345678", "139 1234 5678", "139-1234-5678", "+86 13912345678", "008613912345678"]
)
def test_it_accepts_mainland_mobiles_in_their_usual_formats(raw):
    assert clean_mobile(raw) == "13912345678"


@pytest.mark.parametrize("raw", ["12912345678", "1391234567", "139123456789", "0898-66668888", "abc"])
def test_it_refuses_what_is_not_a_mainland_mobile(raw):
    with pytest.raises(
        ValueError, match=r"not a mainland mobile number \(11 digits starting with 1\[3-9\]\)"
    ):
        clean_mobile(raw)


def test_names_match_across_full_width_spaces_and_middle_dots():
    assert name_key("艾力·买买提") == name_key("艾力•买买提") == name_key(" 艾力 · 买买提 ")


def test_phone_and_normalised_name_make_the_person_key_without_an_id():
    key = person_key(phone="13912345678", name="张 三")
    assert key == person_key(phone="13912345678", name="张三") and key.startswith("pn:")
    assert person_key(phone="13912345678", name="李四") != key


def test_a_lead_with_only_name_and_address_is_its_own_person(hainan):
    (a, b), rejected = validate(
        lead(id_number=None, phone=None, name="王五", address="秀英区秀华路1号"),
        lead(id_number=None, phone=None, name="王五", address="秀英区秀华路1号"),
    )
    assert a.person_key.startswith("lead:") and a.person_key != b.person_key


@override_settings(PERSON_HASH_KEY="another-key")
def test_the_person_key_is_keyed_by_the_person_hash_key():
    other = person_key(id18="11010519491231002X")
    with override_settings(PERSON_HASH_KEY="development-person-hash-key"):
        assert person_key(id18="11010519491231002X") != other


def test_no_plaintext_in_the_hashes(hainan):
    (clean,), _ = validate(lead(id_number="11010519491231002X", phone="13912345678"))
    assert "11010519491231002X" not in clean.person_key + clean.id_number_hash + clean.phone_hash
    assert len(clean.id_number_hash) == 64 and len(clean.phone_hash) == 64


# --- rows ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, priority",
    [
        (Source.CLOSE_CONTACT, Priority.CLOSE_CONTACT),
        (Source.RED_CODE, Priority.RED_CODE),
        (Source.BIG_DATA, Priority.BIG_DATA),
        (Source.YELLOW_CODE, Priority.YELLOW_CODE),
        (Source.RETURNEE, Priority.RETURNEE),
        (Source.COMMUNITY, Priority.TIP),
        (Source.HOTLINE, Priority.TIP),
        (Source.MANUAL, Priority.TIP),
    ],
)
def test_every_source_is_accepted_with_its_priority(hainan, source, priority):
    from tests.factories import TracingTaskFactory

    extra = {"related_task": TracingTaskFactory().pk} if source == Source.CLOSE_CONTACT else {}
    (clean,), rejected = validate(lead(source=source, **extra))
    assert rejected == []
    assert clean.priority == priority


def test_it_refuses_an_unknown_source(hainan):
    _, (rejection,) = validate(lead(source="gossip"))
    assert "unknown source gossip" in rejection.errors["source"][0]


def test_it_requires_source_and_reported_at(hainan):
    _, (rejection,) = validate(lead(source="", reported_at=None))
    assert rejection.errors["source"] == ["required"]
    assert rejection.errors["reported_at"] == ["required"]


def test_it_requires_enough_to_find_the_person(hainan):
    _, (rejection,) = validate(lead(id_number=None, phone=None, name="张三"))
    assert "give id_number, or phone, or name and address" in rejection.errors["id_number"][0]


def test_it_names_an_unknown_division_code(hainan):
    _, (rejection,) = validate(lead(division_code="460199"))
    assert rejection.errors["division_code"] == ["no division has code 460199"]


def test_it_accepts_the_padded_12_digit_form_of_a_division_code(hainan):
    (clean,), _ = validate(lead(division_code="460105000000"))
    assert clean.division_id == "460105"


def test_without_division_code_the_county_is_read_from_the_address(hainan):
    (clean,), _ = validate(lead(division_code=None, address="海南省海口市秀英区长流镇长东村3组"))
    assert clean.division_id == "460105"


def test_without_division_code_or_a_known_county_in_the_address_the_row_is_rejected(hainan):
    _, rejected = validate(
        lead(division_code=None, address="某某路12号"), lead(division_code=None, address=None)
    )
    assert "names no known county" in rejected[0].errors["division_code"][0]
    assert "give division_code, or an address" in rejected[1].errors["division_code"][0]


def test_close_contact_leads_need_an_existing_related_task(hainan):
    _, rejected = validate(lead(source="close_contact"), lead(source="close_contact", related_task=999999))
    assert "required for close_contact leads" in rejected[0].errors["related_task"][0]
    assert rejected[1].errors["related_task"] == ["no task has id 999999"]


@time_machine.travel(datetime(2024, 5, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_refuses_a_report_from_the_future_and_reads_naive_times_in_beijing_time(hainan):
    (clean,), (rejection,) = validate(
        lead(reported_at="2024-05-01 08:30"), lead(reported_at="2024-05-02T08:30:00")
    )
    assert clean.reported_at.isoformat() == "2024-05-01T08:30:00+08:00"
    assert "is in the future" in rejection.errors["reported_at"][0]


def test_it_names_unknown_fields_instead_of_ignoring_them(hainan):
    _, (rejection,) = validate(lead(idnumber="x"))
    assert "unknown field" in rejection.errors["idnumber"][0]


def test_it_refuses_a_row_that_is_not_an_object(hainan):
    _, (rejection,) = validate(["not", "a", "lead"])
    assert rejection.errors == {"non_field_errors": ["a lead is a JSON object"]}


def test_it_fixes_nothing_silently(hainan):
    _, (rejection,) = validate(lead(id_number="110105194912310023", phone="1391234567"))
    assert set(rejection.errors) == {"id_number", "phone"}


def test_valid_ids_from_the_helper_are_valid():
    assert clean_id_number(resident_id())[0]
    assert HOME_VILLAGE.startswith("460105")
