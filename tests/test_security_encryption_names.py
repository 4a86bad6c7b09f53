"""Encryption at rest of names and addresses (docs/encryption.md): persons' and leads' names, leads' and
tasks' addresses. No plaintext of a consumed lead's name or address is left in any text or JSON column
after the batch; the village resolution, search by exact name, the duplicates and key rotation still work.
"""

import base64
from io import StringIO
from types import SimpleNamespace
from unittest import mock

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from tasks import crypto
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Lead, LeadRejection, Person, TracingTask
from tasks.validation import name_hash
from tasks.views.search import Query, search_tasks
from tests.factories import PersonFactory, TracingTaskFactory
from tests.intake_helpers import CHANGDONG_VILLAGE, HOME_VILLAGE, lead, resident_id
from tests.test_retention_every_copy import search as search_database

pytestmark = pytest.mark.django_db

KEY_A = base64.urlsafe_b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode()
ADDRESS = "海口市秀英区长流镇长东村3组12号"
NAME = "欧阳明远"


@pytest.fixture(autouse=True)
def no_dispatch():
    with mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0):
        yield


def raw(table: str, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_the_model_fields_round_trip_and_store_ciphertext(hainan):
    person = PersonFactory(name=NAME)
    task = TracingTaskFactory(person=person, address=ADDRESS)
    stored = raw("tasks_person", person.pk, "name")
    assert stored.startswith("e1:") and NAME not in stored
    assert raw("tasks_tracingtask", task.pk, "address").startswith("e1:")
    assert Person.objects.get(pk=person.pk).name == NAME
    assert TracingTask.objects.get(pk=task.pk).address == ADDRESS
    assert list(TracingTask.objects.filter(pk=task.pk).values_list("person__name", "address")) == [
        (NAME, ADDRESS)
    ]
    # The blind index follows the name on every save, update_fields included.
    assert Person.objects.get(pk=person.pk).name_hash == name_hash(NAME)
    person.name = "王五"
    person.save(update_fields=["name"])
    assert Person.objects.get(pk=person.pk).name_hash == name_hash("王五")
    with pytest.raises(FieldError):
        list(Person.objects.filter(name=NAME))
    with pytest.raises(FieldError):
        list(TracingTask.objects.filter(address=ADDRESS))


def test_after_the_batch_no_plaintext_name_or_address_of_its_leads_is_left_anywhere(hainan, duty_officer):
    id_number = resident_id()
    result = ingest_rows(
        [
            # A county and an address: resolved to the village the address names.
            lead(name=NAME, id_number=id_number, division_code="460105", address=ADDRESS),
            lead(
                name="司马相如",
                phone="13912340000",
                division_code=None,
                address="海南省海口市秀英区长流镇长东村5号",
            ),
            lead(name="诸葛亮亮", division_code=HOME_VILLAGE, address="秀华路1号"),
            # Rejected (bad phone): its row keeps the name and address encrypted too.
            lead(name="上官婉儿", phone="12", id_number=None, address="秀英大道8号"),
        ],
        channel="api",
    )
    assert result.accepted == 3 and len(result.rejected) == 1
    batch = intake_run()
    assert batch.leads == 3
    # Resolution still works on the decrypted addresses.
    resolved = TracingTask.objects.get(person__name_hash=name_hash(NAME))
    assert resolved.division_id == CHANGDONG_VILLAGE and resolved.unresolved_reason == ""
    assert resolved.address == ADDRESS and resolved.person.name == NAME
    assert TracingTask.objects.filter(division_id=CHANGDONG_VILLAGE).count() == 2
    assert crypto.reveal_row(LeadRejection.objects.get().row)["name"] == "上官婉儿"
    # The helper sees the name once decrypted: what follows is not vacuous.
    assert "tasks_person.name: " + NAME in search_database(NAME)
    assert (
        search_database(
            NAME,
            "司马相如",
            "诸葛亮亮",
            "上官婉儿",
            ADDRESS,
            "长东村5号",
            "秀华路1号",
            "秀英大道8号",
            decrypt=False,
        )
        == []
    )


def test_import_leads_stores_names_and_addresses_encrypted(hainan, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(
        "source,external_id,id_number,name,phone,division_code,address,reported_at\n"
        f"red_code,imp-1,{resident_id()},{NAME},,460105,{ADDRESS},2024-05-01T08:30:00+08:00\n",
        encoding="utf-8",
    )
    call_command("import_leads", str(path), "--source", "red_code", stdout=StringIO(), stderr=StringIO())
    row = Lead.objects.get()
    assert (row.name, row.address, row.name_hash) == (NAME, ADDRESS, name_hash(NAME))
    assert raw("tasks_lead", row.pk, "name").startswith("e1:")
    assert raw("tasks_lead", row.pk, "address").startswith("e1:")
    intake_run()
    assert TracingTask.objects.get().division_id == CHANGDONG_VILLAGE


def test_search_by_exact_name_goes_through_the_blind_index(hainan, duty_officer):
    ingest_rows([lead(name=NAME), lead(name="欧阳明")], channel="api")
    intake_run()
    found = search_tasks(duty_officer, Query("name", NAME))
    assert [t.person.name for t in found] == [NAME]
    # The name's matching form: full-width and spaces do not matter; a part of the name does not match.
    assert search_tasks(duty_officer, Query("name", "欧阳 明远")).count() == 1
    assert search_tasks(duty_officer, Query("name", "欧阳")).count() == 0


def test_rotation_covers_names_and_addresses(hainan, duty_officer):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        ingest_rows(
            [
                lead(name=NAME, division_code="460105", address=ADDRESS),
                lead(name="李四", phone="12", id_number=None),
            ],
            channel="api",
        )
        intake_run()
    task = TracingTask.objects.only("pk", "person_id").get()
    lead_pk = Lead.objects.values_list("pk", flat=True).get()
    kid_b = crypto.key_id(b"B" * 32)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "tasks_tracingtask: 1 rows" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        for table, pk, column in (
            ("tasks_person", task.person_id, "name"),
            ("tasks_tracingtask", task.pk, "address"),
            ("tasks_lead", lead_pk, "name"),
            ("tasks_lead", lead_pk, "address"),
        ):
            assert raw(table, pk, column).startswith(f"e1:{kid_b}:"), (table, column)
        task = TracingTask.objects.select_related("person").get()
        assert (task.person.name, task.address) == (NAME, ADDRESS)
        assert crypto.reveal_row(LeadRejection.objects.get().row)["name"] == "李四"


def test_the_migration_encrypts_existing_names_and_addresses_and_fills_the_name_index(hainan):
    import importlib

    migration = importlib.import_module("tasks.migrations.0200_encrypt_names_addresses")
    task = TracingTaskFactory(person=PersonFactory(name=NAME), address=ADDRESS)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tasks_person SET name = %s, name_hash = '' WHERE id = %s", [NAME, task.person_id]
        )
        cursor.execute("UPDATE tasks_tracingtask SET address = %s WHERE id = %s", [ADDRESS, task.pk])
    migration.encrypt_existing(None, SimpleNamespace(connection=connection))
    assert raw("tasks_person", task.person_id, "name").startswith("e1:")
    assert raw("tasks_tracingtask", task.pk, "address").startswith("e1:")
    person = Person.objects.get(pk=task.person_id)
    assert (person.name, person.name_hash) == (NAME, name_hash(NAME))
    migration.decrypt_existing(None, SimpleNamespace(connection=connection))
    assert raw("tasks_person", task.person_id, "name") == NAME


# --- field records, findings and report snapshots ------------------------------------------------------------

CONTACT_NAME = "慕容复兴"
PLACE = "友谊超市秀英店"
COMPANIONS = "丈夫令狐冲，电话13907550000"


def test_field_records_store_places_companions_and_contacts_encrypted(field_staff):
    from tasks import fieldwork
    from tasks.models import CloseContact, TrajectoryEntry
    from tests.fieldwork_helpers import contact, dispatched_task, entry

    task = dispatched_task(field_staff)
    fieldwork.trajectory_add(
        task=task,
        actor=field_staff,
        data=entry(version=task.version, place_name=PLACE, address=ADDRESS, companions=COMPANIONS),
    )
    task.refresh_from_db()
    fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=task.version, name=CONTACT_NAME, last_contact_place=PLACE, address=ADDRESS),
    )
    saved = TrajectoryEntry.objects.get()
    assert (saved.place_name, saved.address, saved.companions) == (PLACE, ADDRESS, COMPANIONS)
    for column in ("place_name", "address", "companions"):
        assert raw("tasks_trajectoryentry", saved.pk, column).startswith("e1:"), column
    person = CloseContact.objects.get()
    assert (person.name, person.last_contact_place, person.address) == (CONTACT_NAME, PLACE, ADDRESS)
    for column in ("name", "last_contact_place", "address"):
        assert raw("tasks_closecontact", person.pk, column).startswith("e1:"), column
    # The contact's lead is matched and searchable like any other.
    assert person.lead.name_hash == name_hash(CONTACT_NAME)
    # Neither the records, the contact's lead (reason, payload) nor the change history keep them in plaintext.
    assert search_database(CONTACT_NAME, PLACE, ADDRESS, COMPANIONS, decrypt=False) == []


def test_findings_and_report_snapshots_keep_names_and_places_encrypted(hainan):
    from reports.models import ReportVersion
    from reviews.models import Finding, Review

    task = TracingTaskFactory(person=PersonFactory(name=NAME), address=ADDRESS)
    review = Review.objects.create(task=task, submitted_at=task.created_at)
    finding = Finding.objects.create(
        task=task,
        review=review,
        rule="overlap",
        severity="warning",
        params={"place": PLACE, "name": CONTACT_NAME},
    )
    data = {
        "person": {"name": NAME, "address": ADDRESS, "id_number": "", "phone": ""},
        "trajectory": [{"place": PLACE, "address": ADDRESS, "companions": COMPANIONS}],
        "contacts": [{"name": CONTACT_NAME, "place": PLACE}],
    }
    version = ReportVersion.objects.create(task=task, number=1, reason="approval", data=data, digest="x")
    assert Finding.objects.get(pk=finding.pk).params == {"place": PLACE, "name": CONTACT_NAME}
    assert ReportVersion.objects.get(pk=version.pk).data == data
    # (The person's name remains in the change history's description of the person, `str(person)`: see
    # "Not encrypted" in docs/encryption.md.)
    assert search_database(NAME, ADDRESS, PLACE, CONTACT_NAME, COMPANIONS, decrypt=False) == [
        f"auditlog_logentry.object_repr: {NAME}"
    ]
