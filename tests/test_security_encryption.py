"""Encryption at rest of resident ID numbers and phones (issue 9 item 3; docs/encryption.md).

The raw column in PostgreSQL never holds the plaintext; model access returns it; matching goes through
the HMAC blind index; masking, reveal, SMS and the change history keep working; keys rotate.
"""

import base64
import json
from io import StringIO
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from tasks import crypto, fieldwork
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.masking import mask_id_number, mask_phone
from tasks.models import CloseContact, Lead, LeadRejection, Person, TracingTask
from tasks.validation import id_number_hash, phone_hash, upgrade_id15
from tests.factories import PersonFactory, TracingTaskFactory
from tests.fieldwork_helpers import contact, dispatched_task
from tests.intake_helpers import HOME_VILLAGE, lead, resident_id

pytestmark = pytest.mark.django_db

KEY_A = base64.urlsafe_b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode()
PHONE = "13912345678"


@pytest.fixture(autouse=True)
def no_dispatch():
    with mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0):
        yield


def raw(table: str, pk: int, *columns: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def assert_encrypted(table: str, pk: int, id_number: str, phone: str) -> None:
    stored_id, stored_phone = raw(table, pk, "id_number", "phone")
    for stored, plain in ((stored_id, id_number), (stored_phone, phone)):
        if plain:
            assert stored.startswith("e1:") and plain not in stored
        else:
            assert stored == ""


# --- the crypto primitives ---------------------------------------------------------------------------------


def test_encrypt_is_randomised_and_empty_stays_empty():
    a, b = crypto.encrypt("11010519491231002X"), crypto.encrypt("11010519491231002X")
    assert a != b and a.startswith("e1:") and crypto.decrypt(a) == crypto.decrypt(b) == "11010519491231002X"
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
    assert crypto.encrypt(a) == a  # an envelope is never encrypted twice


def test_the_envelope_of_an_18_character_id_is_longer_than_of_a_15_digit_one():
    # The intake consolidation prefers the 18-character form by comparing envelope lengths.
    assert len(crypto.encrypt("110105491231002")) < len(crypto.encrypt("11010519491231002X"))


def test_a_tampered_value_is_refused():
    token = crypto.encrypt(PHONE)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)


def test_filtering_an_encrypted_field_by_value_is_refused():
    with pytest.raises(FieldError, match="blind-index"):
        list(Person.objects.filter(phone=PHONE))
    assert list(Person.objects.filter(phone="")) == []  # emptiness is still a valid question


# --- every write path --------------------------------------------------------------------------------------


def test_api_ingestion_and_intake_store_ciphertext_and_read_back_plaintext(api_client, duty_officer):
    id_number = resident_id()
    api_client.force_authenticate(duty_officer)
    response = api_client.post("/api/v1/leads/", [lead(id_number=id_number, phone=PHONE)], format="json")
    assert response.status_code == 201 and response.json()["accepted"] == 1
    row = Lead.objects.get()
    assert (row.id_number, row.phone) == (id_number, PHONE)
    assert_encrypted("tasks_lead", row.pk, id_number, PHONE)

    intake_run()
    person = Person.objects.get()
    assert (person.id_number, person.phone) == (id_number, PHONE)
    assert_encrypted("tasks_person", person.pk, id_number, PHONE)
    # Exact-match search goes through the blind index.
    assert Person.objects.get(id_number_hash=id_number_hash(id_number)) == person
    assert Person.objects.get(phone_hash=phone_hash(PHONE)) == person
    # values() decrypts too.
    assert list(TracingTask.objects.values_list("person__id_number", flat=True)) == [id_number]


def test_import_leads_stores_ciphertext(hainan, tmp_path):
    id_number = resident_id()
    path = tmp_path / "leads.csv"
    path.write_text(
        "source,external_id,id_number,name,phone,division_code,reported_at\n"
        f"red_code,imp-1,{id_number},张三,{PHONE},{HOME_VILLAGE},2024-05-01T08:30:00+08:00\n"
        f"red_code,imp-2,,李四,13800001111,{HOME_VILLAGE},2024-05-01T08:30:00+08:00\n",
        encoding="utf-8",
    )
    call_command("import_leads", str(path), "--source", "red_code", stdout=StringIO(), stderr=StringIO())
    first, second = Lead.objects.order_by("external_id")
    assert_encrypted("tasks_lead", first.pk, id_number, PHONE)
    assert_encrypted("tasks_lead", second.pk, "", "13800001111")
    assert (first.id_number, second.id_number, second.phone) == (id_number, "", "13800001111")


def test_intake_prefers_the_18_character_id_over_the_15_digit_form(hainan):
    id15 = "110105491231002"
    id18 = upgrade_id15(id15)
    ingest_rows([lead(id_number=id15, division_code=HOME_VILLAGE)], channel="api")
    intake_run()
    assert Person.objects.get().id_number == id15
    ingest_rows([lead(id_number=id18, division_code=HOME_VILLAGE)], channel="api")
    intake_run()
    person = Person.objects.get()
    assert person.id_number == id18
    # A phone arriving later fills the gap.
    ingest_rows([lead(id_number=id15, phone=PHONE, division_code=HOME_VILLAGE)], channel="api")
    intake_run()
    person.refresh_from_db()
    assert (person.id_number, person.phone) == (id18, PHONE)
    assert_encrypted("tasks_person", person.pk, id18, PHONE)


def test_rejected_rows_keep_no_plaintext_id_or_phone(hainan):
    bad_id = "110105194912310023"  # wrong check digit
    ingest_rows(
        [lead(id_number=bad_id, phone="12345", external_id="rej-1"), ["11010519491231002X"]], channel="api"
    )
    rejections = list(LeadRejection.objects.order_by("row_index"))
    assert len(rejections) == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT row::text FROM tasks_leadrejection")
        stored = " ".join(r[0] for r in cursor.fetchall())
    assert bad_id not in stored and "12345" not in stored and "11010519491231002X" not in stored
    assert crypto.reveal_row(rejections[0].row)["id_number"] == bad_id
    assert crypto.reveal_row(rejections[0].row)["phone"] == "12345"
    assert crypto.reveal_row(rejections[1].row) == ["11010519491231002X"]


def test_a_recorded_close_contact_and_its_lead_store_ciphertext(field_staff):
    task = dispatched_task(field_staff)
    id_number = resident_id()
    outcome = fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=task.version, id_number=id_number)
    )
    record = CloseContact.objects.get(pk=outcome.record.pk)
    assert (record.id_number, record.phone) == (id_number, "13907551234")
    assert_encrypted("tasks_closecontact", record.pk, id_number, "13907551234")
    assert_encrypted("tasks_lead", record.lead_id, id_number, "13907551234")
    assert record.lead.id_number_hash == id_number_hash(id_number)


# --- reading: masking, reveal, change history ----------------------------------------------------------------


def test_masking_and_reveal_work_on_decrypted_values(client, duty_officer, password):
    task = TracingTaskFactory(
        person=PersonFactory(id_number="460105199001011234", phone="13912341234"), address="某路 1 号"
    )
    assert_encrypted("tasks_person", task.person_id, "460105199001011234", "13912341234")
    person = Person.objects.get(pk=task.person_id)
    assert (
        mask_id_number(person.id_number) == "4601**********1234" and mask_phone(person.phone) == "139****1234"
    )
    client.login(username=duty_officer.username, password=password)
    response = client.post(reverse("task_reveal", kwargs={"pk": task.pk}), {"reason": "核实身份后电话联系"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "460105199001011234" in html and "13912341234" in html


def test_the_change_history_holds_neither_plaintext_nor_ciphertext_churn(hainan):
    person = Person.objects.create(person_key="k-audit", id_number="460105199001011234", phone="13912341234")
    person.name = "改名"
    person.save()  # the identity fields did not change: not in this entry
    person.phone = "13800001111"
    person.save()
    entries = list(LogEntry.objects.get_for_object(person).order_by("id"))
    assert len(entries) == 3
    text = " ".join(json.dumps(e.changes, ensure_ascii=False) for e in entries)
    for secret in ("460105199001011234", "13912341234", "13800001111", "e1:", "1011234", "1111"):
        assert secret not in text
    assert "phone" not in entries[1].changes and entries[2].changes["phone"] == ["********", "********"]


# --- keys --------------------------------------------------------------------------------------------------


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_be_dropped(field_staff):
    id_number = resident_id()
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        ingest_rows(
            [
                lead(id_number=id_number, phone=PHONE, external_id="rot-1"),
                lead(id_number="bad", phone="13", external_id="rot-2"),
            ],
            channel="api",
        )
        intake_run()
        task = dispatched_task(field_staff)
        fieldwork.record_contact(
            task=task, actor=field_staff, data=contact(version=task.version, id_number=id_number, phone=PHONE)
        )
        person_pk = Person.objects.get(id_number_hash=id_number_hash(id_number)).pk
        stored_a = raw("tasks_person", person_pk, "id_number")[0]
        kid_a = crypto.key_id(b"A" * 32)
        assert stored_a.startswith(f"e1:{kid_a}:")

    # Only the new key: values of the old one are unreadable, with a clear error.
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        with pytest.raises(crypto.DecryptionError, match=f"key id {kid_a}.*rotate_encryption_keys"):
            Person.objects.get(pk=person_pk)
        with pytest.raises(CommandError, match=kid_a):
            call_command("rotate_encryption_keys", stdout=StringIO())

    # New key first, old key still readable: rotate (twice: the second run has nothing to do).
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out = StringIO()
        call_command("rotate_encryption_keys", "--batch-size", "1", stdout=out)
        # Persons: the intake's and the dispatched task's; leads: 1 ingested + 1 from the close contact.
        assert "tasks_person: 2 rows" in out.getvalue() and "tasks_closecontact: 1 rows" in out.getvalue()
        assert "tasks_lead: 2 rows" in out.getvalue()
        assert "tasks_leadrejection: 1 rows" in out.getvalue()
        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "tasks_person: 0 rows" in out.getvalue() and "tasks_leadrejection: 0 rows" in out.getvalue()

    # Old key dropped: everything still reads.
    kid_b = crypto.key_id(b"B" * 32)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        person = Person.objects.get(pk=person_pk)
        assert (person.id_number, person.phone) == (id_number, PHONE)
        assert raw("tasks_person", person_pk, "id_number")[0].startswith(f"e1:{kid_b}:")
        assert [lead.id_number for lead in Lead.objects.filter(id_number_hash=id_number_hash(id_number))] == [
            id_number
        ] * 2
        assert CloseContact.objects.get().phone == PHONE
        assert crypto.reveal_row(LeadRejection.objects.get().row)["phone"] == "13"


def test_rotation_encrypts_plaintext_left_from_before_encryption(hainan):
    person = PersonFactory(id_number="460105199001011234", phone="13912341234")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tasks_person SET id_number = '460105199001011234', phone = '13912341234' WHERE id = %s",
            [person.pk],
        )
    assert Person.objects.get(pk=person.pk).id_number == "460105199001011234"  # legacy plaintext still reads
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert_encrypted("tasks_person", person.pk, "460105199001011234", "13912341234")
    assert Person.objects.get(pk=person.pk).phone == "13912341234"


def test_settings_refuse_to_start_without_keys_when_debug_is_off(monkeypatch):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "FIELD_ENCRYPTION_KEYS"}
    env["DEBUG"] = "false"
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='tracing_center.settings'; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parent.parent),
    )
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEYS is required" in result.stderr
