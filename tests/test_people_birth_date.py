"""The rule "same name and birth date from the ID": a keyed hash of the normalised name and the birth date
read from the document, computed at validation beside the other blind indexes, copied to the person by
the intake's set SQL, filled for older rows by a one-off migration, and joined on by the duplicate job
(tasks/duplicates.py) without decrypting anything."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connection

from tasks.duplicates import find_duplicates
from tasks.intake import intake_run
from tasks.models import DuplicateCandidate, Lead, Person
from tasks.validation import birth_date_of, id_check_digit, name_birth_hash, upgrade_id15
from tasks.worktypes import person_merge
from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import PersonFactory
from tests.intake_helpers import (
    CHANGDONG_VILLAGE,
    CHANGLIU_TOWNSHIP,
    HOME_VILLAGE,
    KANGAN_VILLAGE,
    lead,
    resident_id,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
QUEUE = "/api/v1/persons/duplicates/"
RULE = "same_name_birth_date"


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
    return api_client


def id15(birth6: str, seq: str) -> str:
    return "460105" + birth6 + seq


def foreign_2023(birth: str) -> str:
    first17 = "931156" + birth + "123"
    return first17 + id_check_digit(first17)


def _pairs(rule: str = RULE) -> set[frozenset[int]]:
    return {
        frozenset((c.person_a_id, c.person_b_id)) for c in DuplicateCandidate.objects.all() if rule in c.rules
    }


def _person(id_number: str) -> Person:
    (found,) = [p for p in Person.objects.all() if p.id_number == id_number]
    return found


def test_the_birth_date_comes_from_the_documents_that_carry_one():
    assert birth_date_of(resident_id(birth="19850312")) == "19850312"
    assert birth_date_of(upgrade_id15(id15("850312", "123"))) == "19850312"
    assert birth_date_of("foreign_permanent_resident|" + foreign_2023("19850312")) == "19850312"
    # An 18-character matching text that is not a resident ID: no birth date.
    assert birth_date_of("passport|E12345678") == ""
    assert birth_date_of("foreign_permanent_resident|USA123456789012") == ""
    assert birth_date_of("taiwan_permit|12345678") == ""
    assert birth_date_of("other|123456198503121234") == ""


def test_the_hash_needs_a_name_and_a_birth_date_and_normalises_the_name():
    id18 = resident_id(birth="19850312")
    assert name_birth_hash("王 小明", id18) == name_birth_hash("王小明", id18) != ""
    assert name_birth_hash("王小明", id18) != name_birth_hash("王小明", resident_id(birth="19850313"))
    assert name_birth_hash("王小明", id18) == name_birth_hash("王小明", resident_id(birth="19850312"))
    assert name_birth_hash("", id18) == name_birth_hash("王小明", "passport|E12345678") == ""
    # Not the ID's own hash, nor a hash of the birth date alone.
    assert len(name_birth_hash("王小明", id18)) == 64


def test_the_intake_sets_it_on_leads_and_persons_and_fills_a_gap_later(api):
    id_number = resident_id(birth="19850312")
    # First known by ID without a name: no hash yet.
    assert api.post(LEADS, [lead(id_number=id_number, name=None)], format="json").json()["accepted"] == 1
    intake_run()
    person = _person(id_number)
    assert person.name == "" and person.name_birth_hash == ""
    assert api.post(LEADS, [lead(id_number=id_number, name="王小明")], format="json").json()["accepted"] == 1
    assert Lead.objects.order_by("-id").first().name_birth_hash == name_birth_hash("王小明", id_number)
    intake_run()
    person.refresh_from_db()
    assert person.name == "王小明" and person.name_birth_hash == name_birth_hash("王小明", id_number)


def _seed_namesakes(api) -> dict[str, str]:
    numbers = {
        "a": resident_id(birth="19850312", seq="101"),
        "b": resident_id(birth="19850312", seq="202"),  # a typo in the sequence: another ID
        "legacy": id15("850312", "303"),  # the 15-digit form, the same birth date
        "other_day": resident_id(birth="19850313", seq="404"),
        "passport": "E12345678",
    }
    rows = [
        lead(id_number=numbers["a"], name="王小明", phone="13900000001", division_code=HOME_VILLAGE),
        lead(id_number=numbers["b"], name="王小明", phone="13900000002", division_code=CHANGDONG_VILLAGE),
        lead(id_number=numbers["legacy"], name="王小明", division_code=KANGAN_VILLAGE),
        lead(id_number=numbers["other_day"], name="王小明", division_code=OTHER_VILLAGE_SAME_TOWNSHIP),
        lead(
            id_type="passport", id_number=numbers["passport"], name="王小明", division_code=CHANGLIU_TOWNSHIP
        ),
    ]
    assert api.post(LEADS, rows, format="json").json()["accepted"] == 5
    intake_run()
    return numbers


def test_the_job_pairs_the_same_name_and_birth_date_from_different_ids(api):
    numbers = _seed_namesakes(api)
    result = find_duplicates()
    a, b, legacy = (_person(numbers[k]).pk for k in ("a", "b", "legacy"))
    assert result.ran
    assert _pairs() == {frozenset((a, b)), frozenset((a, legacy)), frozenset((b, legacy))}
    # No other rule pairs them (other phones, other villages): the new rule alone found them.
    pair = DuplicateCandidate.objects.get(person_a_id=min(a, b), person_b_id=max(a, b))
    assert pair.rules == [RULE] and pair.evidence == {"same_characters": True}
    assert DuplicateCandidate.objects.count() == 3


def test_the_job_reads_no_encrypted_column():
    from tasks.duplicates import _propose_sql

    sql = _propose_sql()
    assert "name_birth_hash" in sql
    assert "id_number," not in sql and ".id_number " not in sql and "phone," not in sql


def test_a_seeded_pair_is_listed_with_its_reason_and_a_dismissed_one_never_comes_back(api):
    a_number = resident_id(birth="19700101", seq="111")
    b_number = resident_id(birth="19700101", seq="222")
    rows = [
        lead(id_number=a_number, name="陈静", division_code=HOME_VILLAGE),
        lead(id_number=b_number, name="陈静", division_code=CHANGDONG_VILLAGE),
    ]
    assert api.post(LEADS, rows, format="json").json()["accepted"] == 2
    intake_run()
    assert api.post(f"{QUEUE}scan/").json() == {"ran": True, "proposed": 1}

    listed = api.get(QUEUE, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert listed["count"] == 1
    (row,) = listed["results"]
    assert row["rules"] == [RULE]
    assert row["reasons"] == ["姓名相同且证件出生日期相同（证件号码不同）"]
    assert {row["person_a"]["id"], row["person_b"]["id"]} == {_person(a_number).pk, _person(b_number).pk}

    assert api.post(f"{QUEUE}{row['id']}/dismiss/").status_code == 200
    # Another scan, and another lead about one of the two: the pair is never proposed again.
    assert api.post(f"{QUEUE}scan/").json()["proposed"] == 0
    assert api.post(LEADS, [lead(id_number=b_number, name="陈静")], format="json").json()["accepted"] == 1
    intake_run()
    assert find_duplicates().proposed == 0
    assert api.get(QUEUE).json()["count"] == 0
    assert DuplicateCandidate.objects.get().state == "dismissed"


def test_the_migration_fills_older_persons_and_pending_leads_from_the_decrypted_numbers(api):
    fill = importlib.import_module("tasks.migrations.0171_fill_name_birth_hash").fill
    legacy = id15("850312", "303")
    persons = [
        PersonFactory(name="王小明", id_number=resident_id(birth="19850312")),
        PersonFactory(name="王小明", id_number=legacy),
        PersonFactory(
            name="JOHN SMITH", id_type="foreign_permanent_resident", id_number=foreign_2023("19850312")
        ),
        PersonFactory(name="JOHN SMITH", id_type="passport", id_number="E12345678"),
        PersonFactory(name="", id_number=resident_id(birth="19850312")),
    ]
    assert api.post(LEADS, [lead(name="李四", id_number=legacy)], format="json").json()["accepted"] == 1
    Person.objects.update(name_birth_hash="")
    Lead.objects.update(name_birth_hash="")
    with connection.cursor() as cursor:  # the number is stored encrypted
        cursor.execute("SELECT count(*) FROM tasks_person WHERE left(id_number, 3) = 'e1:'")
        assert cursor.fetchone()[0] == 5

    fill(None, SimpleNamespace(connection=connection))

    got = {p.pk: p.name_birth_hash for p in Person.objects.all()}
    assert got[persons[0].pk] == name_birth_hash("王小明", persons[0].id_number)
    assert got[persons[1].pk] == name_birth_hash("王小明", upgrade_id15(legacy)) == got[persons[0].pk]
    assert got[persons[2].pk] == name_birth_hash(
        "JOHN SMITH", "foreign_permanent_resident|" + foreign_2023("19850312")
    )
    assert got[persons[3].pk] == got[persons[4].pk] == ""
    assert Lead.objects.get().name_birth_hash == name_birth_hash("李四", upgrade_id15(legacy))


def test_a_merge_keeps_the_document_type_with_the_number(hainan):
    keep = PersonFactory(name="JOHN SMITH", person_key="pn:x")
    merged = PersonFactory(
        name="JOHN SMITH", id_type="passport", id_number="E12345678", person_key="id:passport"
    )
    person_merge(keep=keep, merge=merged)
    keep.refresh_from_db()
    merged.refresh_from_db()
    assert (keep.id_type, keep.id_number, keep.person_key) == ("passport", "E12345678", "id:passport")
    assert merged.name_birth_hash == merged.id_number_hash == ""
