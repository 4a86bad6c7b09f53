"""After the retention purge, no copy of the person is left anywhere: a search of the whole database
(every text, varchar and JSON column of every table, found through information_schema, with encrypted
values decrypted) for the person's name, address, phone and ID number finds nothing but what a legal
hold keeps; the uploaded lead files of abandoned previews are gone too (docs/lifecycle.md)."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

import pytest
from django.db import connection
from django.test import RequestFactory

from notices.models import Notice, NoticeFeedback, NoticeFollowUp
from reviews import services
from reviews.models import Review, ReviewComment
from tasks import crypto
from tasks.access_log import record_access
from tasks.models import (
    AccessAction,
    CloseContact,
    ContactAttempt,
    LeadRejection,
    Notification,
    Person,
    RadiusControl,
    Registration,
    TaskStatus,
    TaskTransition,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from tasks.personal_data import upload_dir
from tasks.retention import purge_personal_data
from tests.factories import PersonFactory, TracingTaskFactory
from tests.review_fixtures import APPROVAL, clean_fieldwork, record, submit, traced_task
from tests.workflow_fixtures import linked_lead

pytestmark = pytest.mark.django_db

NAME = "欧阳秀英"
ADDRESS = "长流镇测试路99号"
PHONE = "13912345678"
ID_NUMBER = "46010519850505123X"
SECRETS = (NAME, ADDRESS, PHONE, ID_NUMBER)

HELD_NAME = "司马保全"
HELD_ADDRESS = "西秀镇保全巷7号"

CLOSED = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
ENVELOPE = re.compile(r"e1:[0-9a-f]{8}:[A-Za-z0-9_\-=]+")


@pytest.fixture
def submitted(hainan, field_staff):
    """A task whose field work is submitted: an open review, as the workflow leaves it."""
    reported_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    task = traced_task(reported_at=reported_at)
    clean_fieldwork(task, field_staff, reported_at)
    return submit(task, field_staff)


def database_text(*, decrypt: bool = True) -> dict[str, list[str]]:
    """Every text, varchar and JSON value of every table of the schema, by "table.column"; envelopes
    found in them are decrypted and added (an encrypted copy is a copy) unless `decrypt` is false (what
    is stored in plaintext)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema()
                 AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
                 AND table_name IN (SELECT table_name FROM information_schema.tables
                                    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')"""
        )
        columns = cursor.fetchall()
        found: dict[str, list[str]] = {}
        for table, column in columns:
            cursor.execute(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')
            values = [v for (v,) in cursor.fetchall() if v]
            for value in list(values) if decrypt else ():
                values += [crypto.decrypt(token) for token in ENVELOPE.findall(value)]
            found[f"{table}.{column}"] = values
    return found


def search(*needles: str, decrypt: bool = True) -> list[str]:
    return sorted(
        f"{where}: {needle}"
        for where, values in database_text(decrypt=decrypt).items()
        for needle in needles
        if any(needle in value for value in values)
    )


def _the_person_everywhere(review: Review, field_staff, cdc_expert, duty_officer) -> TracingTask:
    """One investigation with the person's identity copied into every place the system keeps one."""
    task = review.task
    person = Person.objects.get(pk=task.person_id)
    person.name, person.phone, person.id_number = NAME, PHONE, ID_NUMBER
    person.save()  # change history: the name, masked ID and phone
    task.address = ADDRESS
    task.save()
    linked_lead(
        task,
        source="manual",
        reported_at=CLOSED,
        priority=2,
        name=NAME,
        phone=PHONE,
        id_number=ID_NUMBER,
        address=ADDRESS,
        reason=f"{NAME}的密接",
        payload={"name": NAME, "address": ADDRESS},
    )
    # Field records, each edited once so their change history holds the old and new values.
    entry = record(
        TrajectoryEntry,
        task,
        field_staff,
        started_at=CLOSED,
        ended_at=CLOSED + dt.timedelta(hours=1),
        place_name="家",
        address="旧地址",
        companions=f"{NAME}的丈夫",
        activity=f"{NAME}在家",
    )
    entry.address = ADDRESS
    entry.save()
    radius = record(
        RadiusControl,
        task,
        field_staff,
        division_id=task.division_id,
        address=ADDRESS,
        measure="home_isolation",
        controlled_at=CLOSED,
        note=f"{NAME}居家",
    )
    radius.note = f"{NAME}居家，电话{PHONE}"
    radius.save()
    contact = record(
        CloseContact,
        task,
        field_staff,
        name="欧阳大伟",
        relation="family",
        last_contact_at=CLOSED,
        last_contact_place=ADDRESS,
        division_id=task.division_id,
        address=ADDRESS,
    )
    contact.address = f"{ADDRESS}（同住）"
    contact.save()
    record(
        Registration,
        task,
        field_staff,
        arrived_at=CLOSED,
        arrived_from=f"{ADDRESS}附近",
        division_id=task.division_id,
        address=ADDRESS,
        health_state="no_symptoms",
        phone_confirmed=True,
        note=f"{NAME}返乡，电话{PHONE}",
    )
    record(
        ContactAttempt,
        task,
        field_staff,
        method="phone",
        reached=True,
        attempted_at=CLOSED,
        note=f"拨打{PHONE}，{NAME}接听",
    )
    record(
        TestResult,
        task,
        field_staff,
        sampled_at=CLOSED,
        test_type="nucleic_acid",
        result="negative",
        note=NAME,
    )
    # Review: a comment quoting the address, then the approval freezes the report snapshot.
    ReviewComment.objects.create(task=task, review=review, author=cdc_expert, body=f"请核实{ADDRESS}")
    services.review_claim(review=review, actor=cdc_expert)
    services.review_approve(review=review, actor=cdc_expert, disposal=APPROVAL, reasons="同意")
    TaskTransition.objects.create(
        task=task, from_status="approved", to_status="closed", reason=f"{NAME}已解除隔离"
    )
    Notification.objects.create(
        recipient=field_staff, kind="transfer_rejected", task=task, data={"reason": f"{NAME}住在{ADDRESS}"}
    )
    # Notices: what was sent, the feedback and the desk's follow-up.
    notice = Notice.objects.create(
        person=person,
        task=task,
        division_id=task.division_id,
        source="batch_rule",
        rule_key=f"every-copy-{task.pk}",
        category="close_contact",
        title="居家隔离通知",
        text=f"{NAME}：请于11月20日起居家隔离14天",
        variables={"name": NAME},
        phone_hash=person.phone_hash,
    )
    NoticeFeedback.objects.create(notice=notice, text=f"我住在{ADDRESS}，电话{PHONE}", due_at=CLOSED)
    NoticeFollowUp.objects.create(notice=notice, division_id=task.division_id, note=f"已上门{ADDRESS}")
    # Reads: a search by name, and a reveal with a reason that names the person.
    request = RequestFactory().get("/tasks/", {"q": NAME, "phone": PHONE})
    request.user = duty_officer
    record_access(request, action=AccessAction.VIEW, objects=[task])
    record_access(request, action=AccessAction.REVEAL, objects=[task], fields=["phone"], reason=f"回访{NAME}")
    # Intake: a rejected row of the same person and the file of a preview nobody confirmed.
    LeadRejection.objects.create(
        channel="api",
        row_index=0,
        errors={"x": ["bad"]},
        row={"name": NAME, "address": ADDRESS},
        received_at=CLOSED,
    )
    return task


def test_after_the_purge_nothing_of_the_person_is_left_anywhere(
    submitted, field_staff, cdc_expert, duty_officer, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    task = _the_person_everywhere(submitted, field_staff, cdc_expert, duty_officer)
    held = TracingTaskFactory(
        person=PersonFactory(name=HELD_NAME),
        status=TaskStatus.CLOSED,
        closed_at=CLOSED,
        address=HELD_ADDRESS,
        legal_hold=True,
        legal_hold_reason="诉讼保全",
    )
    now = CLOSED + dt.timedelta(days=settings.RETENTION_DAYS, seconds=1)
    folder = upload_dir()
    folder.mkdir(parents=True)
    abandoned = folder / f"{uuid.uuid4().hex}.csv"
    abandoned.write_text(f"name,phone,address\n{NAME},{PHONE},{ADDRESS}\n", encoding="utf-8")
    stamp = (now - dt.timedelta(days=2)).timestamp()
    os.utime(abandoned, (stamp, stamp))
    TracingTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.CLOSED, closed_at=CLOSED, legal_hold=False
    )

    before = search(*SECRETS)
    # The search sees every kind of copy before the purge (else the test proves nothing).
    for where in (
        "tasks_person.name",
        "tasks_lead.address",
        "tasks_trajectoryentry.address",
        "auditlog_logentry.changes",
        "auditlog_logentry.object_repr",
        "tasks_accesslog.path",
        "tasks_accesslog.reason",
        "reports_reportversion.data",
        "reviews_notice.text",
        "reviews_noticefeedback.text",
        "reviews_reviewcomment.body",
    ):
        assert any(hit.startswith(f"{where}:") for hit in before), where
    assert f"tasks_person.phone: {PHONE}" in before  # decrypted envelopes are searched too

    run = purge_personal_data(now=now)

    assert run.persons == 1 and run.held == 1
    assert search(*SECRETS) == []
    assert not abandoned.exists()
    assert run.counts["intake uploads"] == 1 and run.counts["auditlog.LogEntry"] >= 5
    # What the legal hold keeps is still there, and the task rows stay for the statistics.
    # (Names and addresses are masked in the change history: encrypted at rest.)
    assert set(search(HELD_NAME, HELD_ADDRESS)) == {
        f"auditlog_logentry.object_repr: {HELD_NAME}",
        f"tasks_person.name: {HELD_NAME}",
        f"tasks_tracingtask.address: {HELD_ADDRESS}",
    }
    assert TracingTask.objects.filter(pk__in=[task.pk, held.pk]).count() == 2


def test_the_access_log_stays_append_only_outside_the_purge(duty_officer, hainan):
    from django.db import DatabaseError, transaction

    from tasks.models import AccessLog

    person = PersonFactory()
    task = TracingTaskFactory(person=person)
    record_access(duty_officer, action=AccessAction.REVEAL, objects=[task], reason="x")
    entry = AccessLog.objects.get()
    with connection.cursor() as cursor:
        # The purge's switch lets the free text change, but never who read what.
        cursor.execute("SELECT set_config('tasks.access_log_purge', 'on', true)")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE tasks_accesslog SET username = 'someone' WHERE id = %s", [entry.pk])
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM tasks_accesslog WHERE id = %s", [entry.pk])
        cursor.execute("UPDATE tasks_accesslog SET reason = '-' WHERE id = %s", [entry.pk])
        cursor.execute("SELECT set_config('tasks.access_log_purge', 'off', true)")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE tasks_accesslog SET reason = '' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert (entry.reason, entry.username) == ("-", duty_officer.username)


def test_an_upload_is_deleted_one_second_after_its_preview_session_can_have_ended(settings, tmp_path):
    from django.utils import timezone

    from tasks.lifecycle import SweepScope
    from tasks.personal_data import purge_uploads

    settings.MEDIA_ROOT = str(tmp_path)
    folder = upload_dir()
    folder.mkdir(parents=True)
    now = timezone.now()
    edge = now.timestamp() - settings.SESSION_COOKIE_AGE
    young, old = folder / "young.csv", folder / "old.csv"
    for path, stamp in ((young, edge + 1), (old, edge - 1)):
        path.write_text("name\n张三\n", encoding="utf-8")
        os.utime(path, (stamp, stamp))
    cutoff = now - dt.timedelta(days=settings.RETENTION_DAYS)
    assert purge_uploads(SweepScope(now=now, cutoff=cutoff, dry_run=True)) == 1
    assert old.exists()
    assert purge_uploads(SweepScope(now=now, cutoff=cutoff, dry_run=False)) == 1
    assert young.exists() and not old.exists()
