"""Field work services (issue 5): records, milestones through the workflow, idempotency, conflicts,
completeness, and close contacts growing the chain through the next intake batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tasks import fieldwork, workflow
from tasks.models import (
    CloseContact,
    ContactAttempt,
    Lead,
    RadiusControl,
    Role,
    TaskStatus,
    TaskTransition,
    TestResult,
    TracingTask,
    TrajectoryEntry,
)
from tests.conftest import HOME_VILLAGE
from tests.factories import UserFactory
from tests.fieldwork_helpers import attempt, contact, dispatched_task, entry, key, radius, test_result

S = TaskStatus
# The marker (not only the `hainan` fixture) makes pytest-django set up the test database even when
# this module runs alone.
pytestmark = pytest.mark.django_db


@pytest.fixture
def task(field_staff):
    return dispatched_task(field_staff)


def v(task) -> int:
    task.refresh_from_db()
    return task.version


def complete(task, user, *, contacts: int = 1) -> TracingTask:
    fieldwork.record_attempt(task=task, actor=user, data=attempt(version=v(task)))
    fieldwork.record_radius(task=task, actor=user, data=radius(version=v(task)))
    fieldwork.trajectory_add(task=task, actor=user, data=entry(version=v(task)))
    for _ in range(contacts):
        fieldwork.record_contact(
            task=task, actor=user, data=contact(version=v(task), phone=None, name="王五", address="秀华路2号")
        )
    fieldwork.record_test(task=task, actor=user, data=test_result(version=v(task)))
    task.refresh_from_db()
    return task


# --- records and milestones ----------------------------------------------------------------------------


def test_the_first_record_confirms_receipt_of_a_dispatched_task(task, field_staff):
    assert task.status == S.DISPATCHED and task.assignee == field_staff
    outcome = fieldwork.record_attempt(task=task, actor=field_staff, data=attempt(version=task.version))
    assert outcome.created and outcome.task.status == S.RECEIVED
    assert ContactAttempt.objects.get().reached is True
    assert TaskTransition.objects.filter(task=task, to_status=S.RECEIVED, actor=field_staff).exists()


def test_a_radius_record_limits_the_radius_through_the_workflow_and_stops_the_clock(task, field_staff):
    data = radius(version=task.version)
    outcome = fieldwork.record_radius(task=task, actor=field_staff, data=data)
    task.refresh_from_db()
    assert task.status == S.RADIUS_LIMITED
    assert task.radius_limited_at == outcome.record.controlled_at
    assert outcome.task.version == task.version
    assert str(outcome.record.latitude) == "20.012300"
    assert TaskTransition.objects.filter(task=task, to_status=S.RADIUS_LIMITED).count() == 1


def test_not_reached_is_recorded_but_does_not_limit_the_radius(task, field_staff):
    fieldwork.record_radius(
        task=task,
        actor=field_staff,
        data=radius(version=task.version, measure="not_reached", division_code=""),
    )
    task.refresh_from_db()
    assert task.status == S.RECEIVED and task.radius_limited_at is None
    assert RadiusControl.objects.get().division_id == HOME_VILLAGE


def test_centralised_quarantine_needs_the_site(task, field_staff):
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_radius(
            task=task, actor=field_staff, data=radius(version=task.version, measure="centralised_quarantine")
        )
    assert "quarantine_site" in exc.value.message_dict
    fieldwork.record_radius(
        task=task,
        actor=field_staff,
        data=radius(version=task.version, measure="centralised_quarantine", quarantine_site="海口某酒店"),
    )
    assert RadiusControl.objects.get().quarantine_site == "海口某酒店"


def test_validation_names_each_field_and_its_reason(task, field_staff):
    bad = entry(
        version=task.version,
        started_at=timezone.now().isoformat(),
        ended_at=(timezone.now() - timedelta(hours=1)).isoformat(),
        place_name="",
        latitude="95",
        longitude="",
        transport="flight",
        vehicle_number="",
    )
    with pytest.raises(ValidationError) as exc:
        fieldwork.trajectory_add(task=task, actor=field_staff, data=bad)
    errors = exc.value.message_dict
    assert set(errors) >= {"ended_at", "place_name", "latitude", "longitude", "vehicle_number"}
    assert not TrajectoryEntry.objects.exists()
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_attempt(
            task=task,
            actor=field_staff,
            data=attempt(version=task.version, attempted_at="tomorrow", method="fax"),
        )
    assert set(exc.value.message_dict) == {"attempted_at", "method"}


@pytest.mark.parametrize(
    ("service", "make", "model"),
    [
        (fieldwork.record_attempt, attempt, ContactAttempt),
        (fieldwork.record_radius, radius, RadiusControl),
        (fieldwork.trajectory_add, entry, TrajectoryEntry),
        (fieldwork.record_contact, contact, CloseContact),
        (fieldwork.record_test, test_result, TestResult),
    ],
)
def test_a_resend_with_the_same_key_returns_the_same_record(task, field_staff, service, make, model):
    data = make(version=task.version)
    first = service(task=task, actor=field_staff, data=dict(data))
    # The first write may have moved the task on (receipt, radius): the resend still carries the old
    # version and must not turn into a conflict.
    second = service(task=task, actor=field_staff, data=dict(data))
    assert first.created and not second.created
    assert first.record.pk == second.record.pk
    assert model.objects.count() == 1
    if model is CloseContact:
        assert Lead.objects.filter(source="close_contact").count() == 1


def test_a_key_used_on_another_task_is_a_conflict(task, field_staff):
    other = dispatched_task(field_staff)
    data = attempt(version=task.version)
    fieldwork.record_attempt(task=task, actor=field_staff, data=dict(data))
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.record_attempt(task=other, actor=field_staff, data={**data, "version": other.version})
    assert exc.value.code == "idempotency_key_reused"


def test_a_role_without_field_work_is_refused(task, duty_officer):
    with pytest.raises(PermissionDenied):
        fieldwork.record_attempt(task=task, actor=duty_officer, data=attempt(version=task.version))


def test_version_and_key_are_required(task, field_staff):
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_attempt(task=task, actor=field_staff, data={**attempt(), "idempotency_key": "nope"})
    assert "idempotency_key" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_attempt(task=task, actor=field_staff, data=attempt())
    assert "version" in exc.value.message_dict


# --- conflicts -------------------------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_not_an_overwrite(task, field_staff):
    stale = task.version
    fieldwork.record_radius(task=task, actor=field_staff, data=radius(version=stale))  # moves the task on
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=stale))
    assert exc.value.code == "stale"
    assert exc.value.as_dict()["task"]["version"] == v(task)
    assert not TrajectoryEntry.objects.exists()


def test_a_task_transferred_meanwhile_is_a_conflict_naming_the_target(task, field_staff, duty_officer):
    seen = task.version
    workflow.task_transfer(task=task, actor=duty_officer, division_code="460106", reason="人在龙华区")
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.record_attempt(task=task, actor=field_staff, data=attempt(version=seen))
    assert exc.value.code == "transferred"
    assert "龙华区" in exc.value.detail and "值班员甲" in exc.value.detail
    assert not ContactAttempt.objects.exists()


def test_a_task_reassigned_meanwhile_is_a_conflict_naming_the_new_assignee(task, field_staff, team_leader):
    seen = task.version
    other = UserFactory(username="dan", full_name="网格员丙", role=Role.FIELD_STAFF, division_id=HOME_VILLAGE)
    workflow.task_assign(task=task, actor=team_leader, assignee=other)
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.record_attempt(task=task, actor=field_staff, data=attempt(version=seen))
    assert exc.value.code == "reassigned" and "网格员丙" in exc.value.detail


def test_a_task_returned_meanwhile_is_a_conflict_then_takes_field_work_again(task, field_staff, cdc_expert):
    complete(task, field_staff)
    fieldwork.submit(task=task, actor=field_staff, data={"version": v(task)})
    seen = v(task)
    workflow.task_change_status(task=task, to_status=S.RETURNED, actor=cdc_expert, reason="轨迹缺少晚间")
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=seen))
    assert exc.value.code == "returned"
    fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=v(task), place_name="夜市"))
    fieldwork.submit(task=task, actor=field_staff, data={"version": v(task)})
    assert v(task) and TracingTask.objects.get(pk=task.pk).status == S.SUBMITTED


# --- trajectory edit / delete ------------------------------------------------------------------------


def test_trajectory_entries_can_be_edited_and_deleted_before_submission(task, field_staff):
    added = fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=task.version)).record
    edit = {
        "version": v(task),
        "revision": added.revision,
        "idempotency_key": key(),
        "place_name": "友谊阳光城",
    }
    edited = fieldwork.trajectory_edit(task=task, actor=field_staff, entry_id=added.pk, data=dict(edit))
    assert edited.record.place_name == "友谊阳光城" and edited.record.revision == 2
    assert edited.record.activity == "购物"  # partial: the other fields are kept
    again = fieldwork.trajectory_edit(task=task, actor=field_staff, entry_id=added.pk, data=dict(edit))
    assert not again.created and again.record.revision == 2  # the same edit re-sent: no conflict with itself
    fieldwork.trajectory_delete(task=task, actor=field_staff, entry_id=added.pk, data={"version": v(task)})
    added.refresh_from_db()
    assert added.deleted_at is not None
    assert not fieldwork.trajectory_delete(
        task=task, actor=field_staff, entry_id=added.pk, data={"version": 1}
    ).created


def test_an_edit_from_an_older_revision_is_a_conflict(task, field_staff):
    added = fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=task.version)).record
    fieldwork.trajectory_edit(
        task=task,
        actor=field_staff,
        entry_id=added.pk,
        data={"version": v(task), "revision": 1, "seat": "12A"},
    )
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.trajectory_edit(
            task=task,
            actor=field_staff,
            entry_id=added.pk,
            data={"version": v(task), "revision": 1, "seat": "3C"},
        )
    assert exc.value.code == "entry_changed"
    added.refresh_from_db()
    assert added.seat == "12A"


def test_edit_and_delete_are_refused_after_submission(task, field_staff):
    task = complete(task, field_staff)
    entry_id = TrajectoryEntry.objects.get(task=task).pk
    fieldwork.submit(task=task, actor=field_staff, data={"version": task.version})
    now_version = v(task)
    with pytest.raises(fieldwork.FieldConflict) as exc:
        fieldwork.trajectory_edit(
            task=task, actor=field_staff, entry_id=entry_id, data={"version": now_version, "place_name": "x"}
        )
    assert exc.value.code == "submitted"
    with pytest.raises(fieldwork.FieldConflict):
        fieldwork.trajectory_delete(
            task=task, actor=field_staff, entry_id=entry_id, data={"version": now_version}
        )
    with pytest.raises(fieldwork.FieldConflict):
        fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=now_version))
    assert TrajectoryEntry.objects.get(pk=entry_id).deleted_at is None


# --- completeness and submission -----------------------------------------------------------------------


def test_submit_names_everything_that_is_missing(task, field_staff):
    with pytest.raises(ValidationError) as exc:
        fieldwork.submit(task=task, actor=field_staff, data={"version": task.version})
    assert set(exc.value.message_dict) == {"attempts", "radius", "trajectory", "tests", "contacts"}
    fieldwork.record_attempt(task=task, actor=field_staff, data=attempt(version=v(task)))
    fieldwork.record_radius(task=task, actor=field_staff, data=radius(version=v(task)))
    with pytest.raises(ValidationError) as exc:
        fieldwork.submit(task=task, actor=field_staff, data={"version": v(task)})
    assert set(exc.value.message_dict) == {"trajectory", "tests", "contacts"}
    assert TracingTask.objects.get(pk=task.pk).status == S.RADIUS_LIMITED


def test_submit_marks_the_trajectory_traced_then_submits(task, field_staff):
    task = complete(task, field_staff)
    assert task.status == S.RADIUS_LIMITED
    outcome = fieldwork.submit(task=task, actor=field_staff, data={"version": task.version, "note": "请审核"})
    task.refresh_from_db()
    assert outcome.task.status == S.SUBMITTED == task.status
    assert task.traced_at is not None and task.submitted_at is not None
    moves = list(TaskTransition.objects.filter(task=task).values_list("to_status", flat=True))
    assert moves[-3:] == [S.RADIUS_LIMITED, S.TRACED, S.SUBMITTED]


def test_no_close_contacts_must_be_confirmed(task, field_staff):
    task = complete(task, field_staff, contacts=0)
    with pytest.raises(ValidationError) as exc:
        fieldwork.submit(task=task, actor=field_staff, data={"version": task.version})
    assert set(exc.value.message_dict) == {"contacts"}
    fieldwork.submit(task=task, actor=field_staff, data={"version": task.version, "no_close_contacts": True})
    assert v(task) and TracingTask.objects.get(pk=task.pk).status == S.SUBMITTED


def test_mark_traced_checks_the_trajectory_first(task, field_staff):
    fieldwork.record_attempt(task=task, actor=field_staff, data=attempt(version=v(task)))
    fieldwork.record_radius(task=task, actor=field_staff, data=radius(version=v(task)))
    with pytest.raises(ValidationError) as exc:
        fieldwork.mark_traced(task=task, actor=field_staff, data={"version": v(task)})
    assert set(exc.value.message_dict) == {"trajectory"}
    fieldwork.trajectory_add(task=task, actor=field_staff, data=entry(version=v(task)))
    outcome = fieldwork.mark_traced(task=task, actor=field_staff, data={"version": v(task)})
    assert outcome.task.status == S.TRACED and outcome.task.traced_at is not None


# --- close contacts grow the chain -------------------------------------------------------------------------


def test_a_close_contact_becomes_a_lead_hashed_like_the_intake_does(task, field_staff):
    from tasks.validation import id_number_hash, person_key

    id_number = "46010519900307001X"
    from tasks.validation import id_check_digit

    id_number = id_number[:17] + id_check_digit(id_number[:17])
    outcome = fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=task.version, id_number=id_number)
    )
    lead = outcome.record.lead
    assert lead.source == "close_contact" and lead.related_task_id == task.pk and lead.batch_id is None
    assert lead.priority == 1 and lead.channel == "field" and lead.created_by == field_staff
    assert lead.id_number_hash == id_number_hash(id_number)
    assert lead.person_key == person_key(id18=id_number)
    assert lead.division_id == HOME_VILLAGE


def test_an_invalid_id_number_or_phone_of_a_contact_is_refused(task, field_staff):
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_contact(
            task=task,
            actor=field_staff,
            data=contact(version=task.version, id_number="460105199003070011", phone="123"),
        )
    assert set(exc.value.message_dict) == {"id_number", "phone"}
    assert (
        "check digit" in exc.value.message_dict["id_number"][0]
        or "校验" in exc.value.message_dict["id_number"][0]
    )
    assert not Lead.objects.exists()


def test_close_contacts_become_tasks_of_the_next_generation_in_the_next_intake(task, field_staff):
    from tasks.intake import intake_run

    fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=task.version, name="李四", phone="13907551234")
    )
    fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=v(task), name="赵六", phone="13907555678")
    )
    batch = intake_run()
    assert batch is not None and batch.new_tasks == 2
    children = TracingTask.objects.filter(source_task=task)
    assert children.count() == 2
    assert {t.generation for t in children} == {task.generation + 1}
    assert {t.priority for t in children} == {1}
    for record in CloseContact.objects.filter(task=task).select_related("lead"):
        assert record.lead.task is not None and record.lead.task.source_task_id == task.pk


# --- close contacts with other documents ---------------------------------------------------------------


def test_the_document_of_a_contact_defaults_to_a_resident_id(task, field_staff):
    from tests.intake_helpers import resident_id

    first = fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=task.version, id_number=resident_id())
    )
    second = fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=v(task), id_type="", id_number=resident_id())
    )
    assert first.record.lead.id_type == second.record.lead.id_type == "resident_id"
    assert first.record.lead.name_birth_hash  # a resident ID carries the birth date


def test_a_passport_contact_is_one_person_with_a_file_lead_of_the_same_passport(task, field_staff):
    from tasks.intake import intake_run
    from tasks.leads_io import ingest_rows
    from tasks.models import Person
    from tasks.validation import id_number_hash, person_key
    from tests.intake_helpers import lead as file_lead

    outcome = fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=task.version, name="John Smith", id_type="passport", id_number="e1234 5678"),
    )
    lead = outcome.record.lead
    assert lead.id_type == "passport" and lead.id_number == "E12345678"
    assert outcome.record.id_number == "E12345678"
    assert lead.id_number_hash == id_number_hash("passport|E12345678")
    assert lead.person_key == person_key(id18="passport|E12345678")
    assert lead.name_birth_hash == ""  # a passport number carries no birth date
    assert not lead.id_region_unknown

    assert intake_run().new_tasks == 1
    child = TracingTask.objects.get(source_task=task)
    assert child.person.id_type == "passport" and child.person.id_number == "E12345678"

    result = ingest_rows(
        [file_lead(source="red_code", name="John Smith", id_type="passport", id_number="E12345678")],
        channel="api",
    )
    assert result.rejected == []
    file_row = Lead.objects.exclude(pk=lead.pk).get()
    assert (file_row.id_number_hash, file_row.person_key) == (lead.id_number_hash, lead.person_key)
    intake_run()
    file_row.refresh_from_db()
    assert file_row.task.person_id == child.person_id
    assert Person.objects.filter(id_number_hash=lead.id_number_hash).count() == 1


def test_a_passport_and_a_permit_with_the_same_number_are_different_documents(task, field_staff):
    a = fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=task.version, id_type="passport", id_number="12345678"),
    )
    b = fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=v(task), id_type="taiwan_permit", id_number="12345678"),
    )
    assert a.record.lead.person_key != b.record.lead.person_key


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"id_type": "hk_macao_permit", "id_number": "H1234"}, "id_number"),
        ({"id_type": "passport", "id_number": ""}, "id_number"),
        ({"id_type": "driving_licence", "id_number": "E12345678"}, "id_type"),
        ({"id_type": ["passport"], "id_number": "E12345678"}, "id_type"),
        # A resident ID's province is checked as the import checks it.
        ({"id_number": "00010519900307001X"}, "id_number"),
    ],
)
def test_a_wrong_document_names_the_field(task, field_staff, data, field):
    with pytest.raises(ValidationError) as exc:
        fieldwork.record_contact(task=task, actor=field_staff, data=contact(version=task.version, **data))
    assert set(exc.value.message_dict) == {field}
    assert not Lead.objects.exists()


def test_a_contact_phone_outside_the_mainland_is_kept_as_the_import_keeps_it(task, field_staff):
    from tasks.validation import LeadValidator, phone_hash
    from tests.intake_helpers import lead as file_lead

    outcome = fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(
            version=task.version,
            name="陈大文",
            phone="+852 9123 4567",
            id_type="hk_macao_permit",
            id_number="H12345678",
        ),
    )
    lead = outcome.record.lead
    assert lead.phone == outcome.record.phone == "+85291234567"
    assert lead.phone_hash == phone_hash("+85291234567")
    [clean], _ = LeadValidator().validate(
        [file_lead(name="陈大文", phone="00852-9123-4567", id_number="H12345678", id_type="hk_macao_permit")]
    )
    assert (clean.phone, clean.phone_hash, clean.person_key) == (lead.phone, lead.phone_hash, lead.person_key)


def test_the_report_names_a_contact_document_that_is_not_a_resident_id(task, field_staff):
    from django.template.loader import render_to_string

    from reports.services import report_snapshot
    from tasks.models import IdType
    from tests.intake_helpers import resident_id

    fieldwork.record_contact(
        task=task,
        actor=field_staff,
        data=contact(version=task.version, id_type="passport", id_number="E12345678"),
    )
    fieldwork.record_contact(
        task=task, actor=field_staff, data=contact(version=v(task), id_number=resident_id())
    )
    data = report_snapshot(task)
    # A resident ID's entry has no "document" key: the snapshots written before stay the same.
    assert [c.get("document") for c in data["contacts"]] == [str(IdType.PASSPORT.label), None]
    assert "document" not in data["person"]
    html = render_to_string("reports/_report_body.html", {"r": data})
    assert f"<td>{IdType.PASSPORT.label} E12345678</td>" in html
