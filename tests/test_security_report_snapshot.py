"""Report snapshots hold no plaintext identity (issue 9): the ID numbers and phones inside a frozen
report version are encrypted in PostgreSQL, read back as plaintext, rendered as before, re-encrypted by
the key rotation, and emptied by the retention purge."""

from __future__ import annotations

import pytest
from django.db import connection

from reports.lifecycle import rotate_report_snapshots
from reports.models import ReportVersion
from reports.reading import masked_for
from tasks.crypto import PREFIX
from tasks.models import Person
from tests.review_fixtures import APPROVAL, contact

pytestmark = pytest.mark.django_db
ID_NUMBER = "460105199001011234"
PHONE = "13907550001"
CONTACT_ID = "460105198806060018"
CONTACT_PHONE = "13907559999"


@pytest.fixture
def version(review, cdc_expert, field_staff):
    from reviews import services

    task = review.task
    Person.objects.filter(pk=task.person_id).update(id_number=ID_NUMBER, phone=PHONE, name="张三丰")
    contact(
        task, field_staff, reported_at_value(task), name="李四", id_number=CONTACT_ID, phone=CONTACT_PHONE
    )
    services.review_claim(review=review, actor=cdc_expert)
    services.review_approve(review=review, actor=cdc_expert, disposal=APPROVAL, reasons="同意")
    return ReportVersion.objects.get(task=task, number=1)


def reported_at_value(task):
    return task.leads.order_by("reported_at").first().reported_at


def raw_data(version) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM reports_reportversion WHERE id = %s", [version.pk])
        return cursor.fetchone()[0]


def test_the_raw_snapshot_in_postgresql_holds_no_plaintext_id_number_or_phone(version):
    raw = raw_data(version)
    for secret in (ID_NUMBER, PHONE, CONTACT_ID, CONTACT_PHONE):
        assert secret not in raw
    assert raw.count(f'"{PREFIX}') >= 4  # the envelopes
    # Python code reads plaintext: rendering is unchanged.
    fresh = ReportVersion.objects.get(pk=version.pk)
    assert fresh.data["person"]["id_number"] == ID_NUMBER and fresh.data["person"]["phone"] == PHONE
    assert {c["id_number"] for c in fresh.data["contacts"]} >= {CONTACT_ID}


def test_masking_and_digest_work_on_the_plaintext(version, commander, cdc_expert):
    fresh = ReportVersion.objects.get(pk=version.pk)
    assert masked_for(cdc_expert, fresh.data)["person"]["id_number"] == ID_NUMBER
    assert ID_NUMBER not in str(masked_for(commander, fresh.data))
    from reports.services import report_refresh

    assert (
        report_refresh(task_id=version.task_id) is None
    )  # same data: no new version (digest of the plaintext)


def test_snapshots_stored_in_plaintext_are_encrypted_by_the_rotation(version):
    with connection.cursor() as cursor:  # a snapshot written before the encryption
        cursor.execute(
            "UPDATE reports_reportversion SET data = jsonb_set(data, '{person,id_number}', to_jsonb(%s::text)) WHERE id = %s",
            [ID_NUMBER, version.pk],
        )
    assert ID_NUMBER in raw_data(version)
    assert (
        ReportVersion.objects.get(pk=version.pk).data["person"]["id_number"] == ID_NUMBER
    )  # legacy plaintext reads
    assert rotate_report_snapshots() == 1
    assert ID_NUMBER not in raw_data(version)
    assert ReportVersion.objects.get(pk=version.pk).data["person"]["id_number"] == ID_NUMBER
    assert rotate_report_snapshots() == 0  # idempotent
