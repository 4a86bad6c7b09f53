"""`manage.py rotate_person_hash_key`: every keyed hash recomputed with the new PERSON_HASH_KEY from the
decrypted values, matching working again afterwards, reruns (same key, interrupted run)."""

from __future__ import annotations

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring import hooks
from monitoring.clock import local_day
from monitoring.models import CheckInSms, LabResult
from notices.models import Notice
from notices.services.person import sms_inbound
from tasks import blind_index
from tasks import validation as v
from tasks.duplicates import find_duplicates
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Lead, LeadLink, PendingLead, Person, TracingTask
from tests.intake_helpers import lead, resident_id
from tests.monitoring_fixtures import make_period
from tests.notice_fixtures import pushed_notice
from tests.workflow_fixtures import T0

pytestmark = pytest.mark.django_db

NEW_KEY = "a-new-person-hash-key-for-the-rotation-test"
LABS = "/api/v1/test-results/"


@pytest.fixture
def no_dispatch():
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


def send(*rows):
    result = ingest_rows(list(rows), channel="api")
    assert result.rejected == [], result.rejected[0].errors
    return result


def lab_row(sample: str, **fields) -> dict:
    return {
        "lab": "海口市疾控中心实验室",
        "sample_id": sample,
        "sampled_at": "2024-05-01T08:30:00+08:00",
        "test_type": "nucleic_acid",
        "result": "negative",
        **fields,
    }


def rotate(**options) -> str:
    out = io.StringIO()
    call_command("rotate_person_hash_key", stdout=out, **options)
    return out.getvalue()


def expected(obj) -> dict:
    """The hashes of a person or a lead as the validation functions give them under the current key."""
    values = {
        "phone_hash": v.phone_hash(obj.phone) if obj.phone else "",
        "name_hash": v.name_hash(obj.name),
    }
    try:
        id18 = v.clean_document(obj.id_type, obj.id_number)[1] if obj.id_number else ""
    except ValueError:
        return values  # a stored number that does not validate: its document hashes are left (reported)
    values["id_number_hash"] = v.id_number_hash(id18) if id18 else ""
    if obj.name_birth_hash:
        values["name_birth_hash"] = v.name_birth_hash(obj.name, id18)
    if obj.person_key.startswith("id:"):
        values["person_key"] = "id:" + v.id_number_hash(id18)
    elif obj.person_key.startswith("pn:"):
        values["person_key"] = v.person_key(phone=obj.phone, name=obj.name)
    return values


def assert_all_current():
    for model in (Person, Lead):
        for obj in model.objects.all():
            wanted = expected(obj)
            assert {k: getattr(obj, k) for k in wanted} == wanted, (model.__name__, obj.pk)
    assert not Person.objects.exclude(name_sound_hash="", surname_hash="").exists()
    for result in LabResult.objects.all():
        assert result.phone_hash == (v.phone_hash(result.phone) if result.phone else "")
        assert result.phone_name_key == (
            v.person_key(phone=result.phone, name=result.name) if result.phone and result.name else ""
        )
        if result.person_id and result.person.id_number == result.id_number:
            assert result.id_number_hash == v.id_number_hash(
                v.clean_document(result.person.id_type, result.id_number)[1]
            )
    for sms in CheckInSms.objects.select_related("period__person"):
        assert sms.phone_hash == v.phone_hash(sms.period.person.phone)
    for notice in Notice.objects.exclude(phone_hash="").select_related("person"):
        assert notice.phone_hash == v.phone_hash(notice.person.phone)


@pytest.fixture
def world(hainan, crew, county_desk, city_desk, lab_client, no_dispatch, settings):
    """Persons of every kind of identity, pending leads, a lab result, a reminder SMS and a pushed notice,
    all hashed under the old key."""
    settings.PERSON_HASH_KEY = "the-old-person-hash-key"
    ids = {"resident": resident_id(), "passport": "E12345678"}
    send(
        lead(id_number=ids["resident"], name="王 五", phone="+86 139 0000 7001"),
        lead(id_type="passport", id_number=ids["passport"], name="John Smith"),
        lead(phone="13900007003", name="赵六", id_number=None),
        lead(name="钱七", address="海南省海口市秀英区长流镇", id_number=None, division_code=None),
    )
    assert intake_run() is not None
    assert Person.objects.count() == 4
    # Pending leads of two of them: the next intake must still find their persons after the rotation.
    send(
        lead(id_number=ids["resident"], name="王五", source="big_data"),
        lead(phone="13900007003", name="赵六", id_number=None, source="hotline"),
    )
    assert PendingLead.objects.count() == 2
    response = lab_client.post(
        LABS,
        [lab_row("S1", id_number=ids["resident"]), lab_row("S2", phone="13900009999", name="无名")],
        format="json",
    )
    assert response.json()["accepted"] == 2
    resident = Person.objects.get(person_key="id:" + v.id_number_hash(ids["resident"]))
    assert LabResult.objects.get(sample_id="S1").person_id == resident.pk
    period = make_period(TracingTask.objects.get(person=resident))
    hooks.person_reminders([period.pk], day=local_day(T0), now=T0)
    assert CheckInSms.objects.get(period=period).phone_hash == resident.phone_hash != ""
    notice = pushed_notice(county_desk, city_desk, now=timezone.now())
    assert notice.phone_hash
    return {"ids": ids, "resident": resident, "period": period, "notice": notice}


def test_rotation_recomputes_every_hash_and_matching_works_again(world, settings, lab_client):
    ids, resident = world["ids"], world["resident"]
    find_duplicates()  # fills the sound and surname hashes of the open persons (old key)
    resident.refresh_from_db()
    assert resident.name_sound_hash and resident.surname_hash
    settings.PERSON_HASH_KEY = NEW_KEY
    # Under the new key nothing stored matches any more: what the command is for.
    assert not Person.objects.filter(person_key=v.person_key(id18=ids["resident"])).exists()

    output = rotate(verbosity=2)
    # The notice's person (a factory's) too; the name + address person gets its name hash.
    assert "tasks_person: 5 rows updated" in output
    assert "done:" in output
    assert_all_current()
    resident.refresh_from_db()
    assert resident.person_key == v.person_key(id18=ids["resident"])
    # Pending leads carry the keys their persons got.
    for pending in Lead.objects.filter(pk__in=PendingLead.objects.values("lead_id")):
        assert Person.objects.filter(person_key=pending.person_key).exists()

    # The duplicate job refills its hashes, under the new key.
    find_duplicates()
    resident.refresh_from_db()
    assert resident.surname_hash == v.name_hash(v.name_key(resident.name)[:1]) and resident.name_sound_hash

    persons = Person.objects.count()
    send(lead(id_number=ids["resident"], name="王五", source="community"))
    assert intake_run() is not None
    assert Person.objects.count() == persons  # the pending and the new leads found their persons
    assert not PendingLead.objects.exists()
    assert LeadLink.objects.filter(task__person=resident).count() == 3

    response = lab_client.post(LABS, [lab_row("S3", id_number=ids["resident"])], format="json")
    assert response.json()["accepted"] == 1
    assert LabResult.objects.get(sample_id="S3").person_id == resident.pk

    reply = sms_inbound(sender=resident.phone, text="36.5", now=T0 + timedelta(minutes=30))
    assert reply["result"] == "checkin"

    # The notice's number: a reply from it finds the notice again (feedback on it).
    notice = world["notice"]
    answer = sms_inbound(sender=notice.person.phone, text="收到了，谢谢", now=timezone.now())
    assert answer.get("notice") == notice.pk


def test_a_second_run_with_the_same_key_updates_nothing(world, settings):
    settings.PERSON_HASH_KEY = NEW_KEY
    first = blind_index.rehash_stored_hashes(batch_size=2)
    assert first["tasks_person"].updated == 5 and first["tasks_lead"].updated == 6
    assert first["monitoring_labresult"].updated == 2
    assert first["monitoring_checkinsms"].updated == 1 and first["reviews_notice"].updated == 1
    again = blind_index.rehash_stored_hashes(batch_size=2)
    assert {table: result.updated for table, result in again.items()} == dict.fromkeys(again, 0)
    assert "0 rows updated" in rotate() and "tasks_person: 0 rows updated" in rotate()
    assert_all_current()


def test_the_old_key_is_a_rotation_too(world, settings):
    # Rotating back restores exactly what the intake wrote under the old key.
    before = dict(Person.objects.values_list("pk", "person_key"))
    settings.PERSON_HASH_KEY = NEW_KEY
    rotate()
    assert dict(Person.objects.values_list("pk", "person_key")) != before
    settings.PERSON_HASH_KEY = "the-old-person-hash-key"
    rotate()
    assert dict(Person.objects.values_list("pk", "person_key")) == before


def test_an_interrupted_run_can_be_run_again(world, settings):
    settings.PERSON_HASH_KEY = NEW_KEY
    real_write = blind_index._write
    calls = []

    def write_then_fail(cursor, update, changed):
        if calls:
            raise RuntimeError("interrupted")
        calls.append(len(changed))
        return real_write(cursor, update, changed)

    with mock.patch.object(blind_index, "_write", write_then_fail), pytest.raises(RuntimeError):
        rotate(batch_size=1)
    # The first batch (one person) is committed, the rest is not.
    current = {p.pk for p in Person.objects.all() if p.name_hash == v.name_hash(p.name)}
    assert calls == [1] and len(current) == 1

    rotate(batch_size=1)
    assert_all_current()
    assert {t: r.updated for t, r in blind_index.rehash_stored_hashes().items()} == dict.fromkeys(
        ("tasks_person", "tasks_lead", "monitoring_labresult", "monitoring_checkinsms", "reviews_notice"), 0
    )


def test_what_cannot_be_recomputed_is_reported(world, settings):
    # A result matched by hand to a person with another number: the document type the lab sent is not
    # stored, the ID hash is emptied and reported.
    result = LabResult.objects.get(sample_id="S1")
    other = Person.objects.get(id_type="passport")
    LabResult.objects.filter(pk=result.pk).update(person=other)
    # Two persons edited into the same phone + name: the second keeps its key, reported.
    first, second = (
        Person.objects.filter(person_key__startswith="pn:").first(),
        Person.objects.get(name_hash=v.name_hash("钱七")),
    )
    Person.objects.filter(pk=second.pk).update(
        person_key="pn:stale", phone=first.phone, name=first.name, phone_hash=first.phone_hash
    )
    settings.PERSON_HASH_KEY = NEW_KEY
    output = rotate(batch_size=1)
    assert "monitoring_labresult: 1 rows: id_number_hash emptied" in output
    assert LabResult.objects.get(pk=result.pk).id_number_hash == ""
    assert (
        "tasks_person: 1 rows: left as they were: the recomputed person_key belongs to another row" in output
    )
    # Whichever comes first by id gets the key; the other keeps the one it had.
    keys = set(Person.objects.filter(pk__in=[first.pk, second.pk]).values_list("person_key", flat=True))
    assert keys in (
        {"pn:stale", v.person_key(phone=first.phone, name=first.name)},
        {first.person_key, v.person_key(phone=first.phone, name=first.name)},
    )
