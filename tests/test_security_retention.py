"""Retention: personal data of persons whose tasks all ended more than RETENTION_DAYS ago is anonymised;
legal holds keep it; statistics (the task rows) stay; the run is logged, idempotent and exclusive."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connections

from tasks.models import Lead, Person, PurgeRun, TaskStatus, TracingTask
from tasks.retention import LOCK_KEY, purge_personal_data
from tests.factories import PersonFactory, TracingTaskFactory
from tests.workflow_fixtures import linked_lead

CLOSED = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def _closed_task(status=TaskStatus.CLOSED, closed_at=CLOSED, **kwargs):
    person = kwargs.pop("person", None) or PersonFactory(
        id_number="460105199001011234", id_number_hash="h1", phone_hash="h2"
    )
    task = TracingTaskFactory(
        person=person, status=status, closed_at=closed_at, address="秀英区某路 8 号", **kwargs
    )
    linked_lead(
        task,
        source="manual",
        reported_at=CLOSED,
        priority=2,
        name=person.name,
        phone=person.phone,
        id_number=person.id_number,
        id_number_hash="h1",
        address="某路 8 号",
        reason="张三的密接",
        payload={"name": person.name},
        person_key=person.person_key,
    )
    return task


def _edge(settings, seconds):
    return CLOSED + dt.timedelta(days=settings.RETENTION_DAYS, seconds=seconds)


def test_data_is_kept_one_second_before_the_retention_ends(hainan, settings):
    task = _closed_task()
    run = purge_personal_data(now=_edge(settings, -1))
    assert run.persons == 0
    task.person.refresh_from_db()
    assert task.person.id_number == "460105199001011234"


def test_data_is_anonymised_one_second_after_the_retention_ends(hainan, settings):
    task = _closed_task()
    name = task.person.name
    run = purge_personal_data(now=_edge(settings, 1))
    assert (run.persons, run.leads, run.tasks) == (1, 1, 1)
    person = Person.objects.get(pk=task.person_id)
    assert (person.name, person.id_number, person.phone, person.id_number_hash, person.phone_hash) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert person.person_key == f"purged:{person.pk}"
    lead = Lead.objects.get(link__task=task)
    assert (lead.name, lead.id_number, lead.phone, lead.address, lead.reason, lead.payload) == (
        "",
        "",
        "",
        "",
        "",
        {},
    )
    task.refresh_from_db()
    assert task.address == "" and task.status == TaskStatus.CLOSED and task.division_id  # statistics stay
    assert name not in str(list(Person.objects.values()))


def test_notices_and_feedback_are_anonymised_with_the_person(hainan, settings):
    from notices.models import Notice, NoticeFeedback

    task = _closed_task()
    kept = _closed_task(closed_at=CLOSED + dt.timedelta(days=30), person=PersonFactory(phone_hash="h3"))
    for t in (task, kept):
        notice = Notice.objects.create(
            person=t.person,
            task=t,
            division_id=t.division_id,
            source="batch_rule",
            rule_key=f"r{t.pk}",
            category="close_contact",
            title="居家隔离通知",
            text="张**：请于11月20日起居家隔离14天",
            variables={"name": "张**", "start_date": "11月20日", "county": "秀英区"},
            phone_hash=t.person.phone_hash,
        )
        NoticeFeedback.objects.create(notice=notice, text="我住在某路8号，隔离期间需要买药", due_at=CLOSED)
        NoticeFeedback.objects.create(
            notice=notice,
            text="电话13800000000",
            due_at=CLOSED,
            state="answered",
            answer="已联系社区送药",
            answered_at=CLOSED,
        )
    run = purge_personal_data(now=_edge(settings, 1))
    assert run.notices == 3  # one notice, two feedback rows
    notice = Notice.objects.get(task=task)
    assert (notice.text, notice.variables, notice.phone_hash) == ("", {}, "")
    assert (notice.title, notice.category) == ("居家隔离通知", "close_contact")  # what was sent, not to whom
    feedback = sorted(NoticeFeedback.objects.filter(notice=notice).values_list("state", "text", "answer"))
    assert feedback == [("answered", "", "-"), ("open", "", "")]
    other = Notice.objects.get(task=kept)
    assert (other.text, other.phone_hash) == ("张**：请于11月20日起居家隔离14天", "h3")
    assert set(NoticeFeedback.objects.filter(notice=other).values_list("text", flat=True)) == {
        "我住在某路8号，隔离期间需要买药",
        "电话13800000000",
    }
    assert purge_personal_data(now=_edge(settings, 2)).notices == 0


def test_a_legal_hold_keeps_the_data(hainan, settings):
    task = _closed_task(legal_hold=True, legal_hold_reason="诉讼保全")
    run = purge_personal_data(now=_edge(settings, 3600))
    assert run.persons == 0 and run.held == 1
    task.person.refresh_from_db()
    assert task.person.id_number == "460105199001011234"


def test_a_person_with_one_open_task_is_kept(hainan, settings):
    old = _closed_task()
    TracingTaskFactory(person=old.person, status=TaskStatus.RECEIVED)
    assert purge_personal_data(now=_edge(settings, 3600)).persons == 0


def test_a_recently_ended_second_task_keeps_the_person(hainan, settings):
    old = _closed_task()
    _closed_task(person=old.person, status=TaskStatus.MERGED, closed_at=CLOSED + dt.timedelta(days=10))
    assert purge_personal_data(now=_edge(settings, 3600)).persons == 0
    assert purge_personal_data(now=_edge(settings, 3600) + dt.timedelta(days=10)).persons == 1


def test_cancelled_tasks_without_closed_at_use_their_last_update(hainan, settings):
    task = _closed_task(status=TaskStatus.CANCELLED, closed_at=None)
    TracingTask.objects.filter(pk=task.pk).update(updated_at=CLOSED)
    assert purge_personal_data(now=_edge(settings, 1)).persons == 1


def test_the_purge_is_idempotent_and_every_run_is_logged(hainan, settings):
    _closed_task()
    first = purge_personal_data(now=_edge(settings, 1), triggered_by="test")
    second = purge_personal_data(now=_edge(settings, 1))
    assert (first.persons, second.persons) == (1, 0)
    assert PurgeRun.objects.count() == 2 and first.finished_at and first.triggered_by == "test"


def test_a_dry_run_counts_and_changes_nothing(hainan, settings):
    task = _closed_task()
    run = purge_personal_data(now=_edge(settings, 1), dry_run=True)
    assert run.dry_run and run.persons == 1
    task.person.refresh_from_db()
    assert task.person.id_number


def test_the_change_history_loses_the_personal_fields(hainan, settings):
    from auditlog.models import LogEntry

    task = _closed_task()
    person = task.person
    person.name = "李四"
    person.save()
    entry = LogEntry.objects.get_for_object(person).first()
    # The name is encrypted at rest and masked in the changes; the entry's description still names the person.
    assert (
        "李四" not in str(entry.changes) and "********" in str(entry.changes) and entry.object_repr == "李四"
    )
    purge_personal_data(now=_edge(settings, 1))
    entry.refresh_from_db()
    assert "李四" not in str(entry.changes) and entry.object_repr == f"#{person.pk}"


@pytest.mark.django_db(transaction=True)
def test_a_second_run_at_the_same_time_does_nothing(hainan, settings):
    _closed_task()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        assert purge_personal_data(now=_edge(settings, 1)) is None
        assert Person.objects.exclude(id_number="").exists()
        # Unlock explicitly: closing the connection releases the lock only once the server process
        # has ended, which may be after the next statement below.
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    finally:
        other.close()
    assert purge_personal_data(now=_edge(settings, 1)).persons == 1


def test_the_command_takes_now_and_dry_run(hainan, settings, capsys):
    _closed_task()
    moment = _edge(settings, 1).isoformat()
    call_command("purge_personal_data", "--now", moment, "--dry-run")
    assert "Would anonymise 1 persons; 0 rejected intake rows to delete; cut-off" in capsys.readouterr().out
    call_command("purge_personal_data", "--now", moment)
    out = capsys.readouterr().out
    assert "Anonymised 1 persons (1 leads, 1 tasks" in out
    assert (
        "0 field records, 0 report versions, 0 notices and feedback); 0 rejected intake rows deleted" in out
    )


def test_the_retention_job_is_scheduled_nightly(settings):
    from tracing_center.celery import app

    entry = app.conf.beat_schedule["purge-personal-data"]
    assert entry["task"] == "tasks.purge_personal_data"
    assert "tasks.purge_personal_data" in app.tasks
    assert settings.RETENTION_DAYS == 180


# ---- field records, rejected rows, report snapshots ---------------------------------------------------


def _field_records(task):
    import uuid as _uuid

    from tasks.models import CloseContact, ContactAttempt, RadiusControl, TestResult, TrajectoryEntry

    user = task.assignee or __import__("tests.factories", fromlist=["UserFactory"]).UserFactory()
    common = {"task": task, "created_by": user}
    CloseContact.objects.create(
        idempotency_key=_uuid.uuid4(),
        name="李四",
        id_number="460105198806060018",
        phone="13907559999",
        relation="family",
        last_contact_at=CLOSED,
        last_contact_place="李四家",
        division_id=task.division_id,
        address="秀英区某路 9 号",
        **common,
    )
    TrajectoryEntry.objects.create(
        idempotency_key=_uuid.uuid4(),
        started_at=CLOSED,
        ended_at=CLOSED,
        place_name="友谊超市",
        address="秀英大道 8 号",
        latitude="20.012300",
        longitude="110.234500",
        activity="与王五购物",
        seat="12A",
        companions="王五",
        transport="bus",
        vehicle_number="37路",
        **common,
    )
    RadiusControl.objects.create(
        idempotency_key=_uuid.uuid4(),
        division_id=task.division_id,
        address="秀华路 1 号",
        latitude="20.012300",
        longitude="110.234500",
        location_accuracy_m=10,
        measure="centralised_quarantine",
        quarantine_site="某酒店 302 房",
        controlled_at=CLOSED,
        note="本人在酒店",
        **common,
    )
    ContactAttempt.objects.create(
        idempotency_key=_uuid.uuid4(),
        method="phone",
        reached=True,
        attempted_at=CLOSED,
        note="李四接听",
        **common,
    )
    TestResult.objects.create(
        idempotency_key=_uuid.uuid4(),
        sampled_at=CLOSED,
        test_type="nucleic_acid",
        result="negative",
        lab="市疾控",
        note="李四陪同",
        **common,
    )


def _report_version(task):
    from reports.models import ReportVersion

    data = {
        "task": {"id": task.pk},
        "person": {
            "name": "张三",
            "id_number": "460105199001011234",
            "phone": "13907550001",
            "address": "秀英区某路 8 号",
            "division_name": "某村",
        },
        "contacts": [
            {
                "name": "李四",
                "id_number": "460105198806060018",
                "phone": "13907559999",
                "place": "李四家",
                "relation": "家人",
            }
        ],
        "trajectory": [
            {"place": "友谊超市", "address": "秀英大道 8 号", "companions": "王五", "activity": "购物"}
        ],
        "radius": [{"at": None, "measure": "集中隔离", "site": "某酒店 302 房", "note": "本人在酒店"}],
    }
    return ReportVersion.objects.create(task=task, number=1, reason="approval", data=data, digest="x")


def test_field_records_and_report_snapshots_of_purged_persons_are_anonymised(hainan, settings):
    from django.db import connection

    from reports.models import ReportVersion
    from tasks.models import CloseContact, ContactAttempt, RadiusControl, TestResult, TrajectoryEntry

    task = _closed_task()
    _field_records(task)
    version = _report_version(task)
    kept = _closed_task(legal_hold=True, person=PersonFactory(id_number="460105199001011236"))
    _field_records(kept)
    run = purge_personal_data(now=_edge(settings, 1))
    assert run.persons == 1 and run.field_records == 5 and run.report_versions == 1

    c = CloseContact.objects.get(task=task)
    assert (c.name, c.id_number, c.phone, c.last_contact_place, c.address) == ("", "", "", "", "")
    assert c.relation == "family" and c.division_id  # statistics stay
    e = TrajectoryEntry.objects.get(task=task)
    assert (e.address, e.companions, e.activity, e.seat, e.latitude, e.longitude) == (
        "",
        "",
        "",
        "",
        None,
        None,
    )
    assert e.place_name == "友谊超市" and e.transport == "bus"
    r = RadiusControl.objects.get(task=task)
    assert (r.address, r.note, r.latitude, r.longitude, r.location_accuracy_m) == ("", "", None, None, None)
    assert r.quarantine_site == "-" and r.measure == "centralised_quarantine"
    assert ContactAttempt.objects.get(task=task).note == "" and TestResult.objects.get(task=task).note == ""

    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM reports_reportversion WHERE id = %s", [version.pk])
        raw = cursor.fetchone()[0]
    for secret in (
        "张三",
        "460105199001011234",
        "13907550001",
        "某路 8 号",
        "李四",
        "460105198806060018",
        "13907559999",
        "秀英大道",
        "王五",
        "某酒店",
    ):
        assert secret not in raw, secret
    data = ReportVersion.objects.get(pk=version.pk).data
    assert data["person"]["division_name"] == "某村" and data["contacts"][0]["relation"] == "家人"
    assert data["trajectory"][0]["place"] == "友谊超市"

    # The legal hold keeps the other task's field records; a second run changes nothing.
    assert CloseContact.objects.get(task=kept).name == "李四"
    assert TrajectoryEntry.objects.get(task=kept).companions == "王五"
    again = purge_personal_data(now=_edge(settings, 1))
    assert (again.persons, again.field_records, again.report_versions) == (0, 0, 0)


def test_rejected_intake_rows_older_than_the_retention_are_deleted(hainan, settings):
    from tasks.models import LeadRejection

    old = LeadRejection.objects.create(
        channel="api", row_index=0, errors={"x": ["bad"]}, row={"name": "张三"}, received_at=CLOSED
    )
    new = LeadRejection.objects.create(
        channel="api",
        row_index=0,
        errors={"x": ["bad"]},
        row={"name": "李四"},
        received_at=CLOSED + dt.timedelta(days=2),
    )
    dry = purge_personal_data(now=_edge(settings, 1), dry_run=True)
    assert dry.rejections == 1 and LeadRejection.objects.filter(pk=old.pk).exists()
    run = purge_personal_data(now=_edge(settings, 1))
    assert run.rejections == 1
    assert (
        not LeadRejection.objects.filter(pk=old.pk).exists()
        and LeadRejection.objects.filter(pk=new.pk).exists()
    )
    assert purge_personal_data(now=_edge(settings, 1)).rejections == 0
