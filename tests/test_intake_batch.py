"""The intake batch: pending leads → persons → tasks, in sets (tasks/intake.py)."""

import threading
from datetime import datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from tasks import intake
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import IntakeBatch, Lead, Person, Priority, Source, TaskStatus, TracingTask
from tests.factories import TracingTaskFactory
from tests.intake_helpers import (
    CHANGDONG_VILLAGE,
    CHANGLIU_TOWNSHIP,
    HOME_VILLAGE,
    KANGAN_VILLAGE,
    lead,
    resident_id,
)

BATCH_TIME = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(480))


def send(*rows):
    result = ingest_rows(list(rows), channel="api")
    assert result.rejected == [], result.rejected[0].errors
    return result


@pytest.fixture
def no_dispatch():
    # The dispatch step is the dispatch workflow's (tasks/dispatch.py): intake tests look at tasks as the
    # intake leaves them.
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0) as patched,
    ):
        yield patched


# django_db: request the test database statically (reaching it only through `hainan` is not enough).
pytestmark = [pytest.mark.usefixtures("no_dispatch"), pytest.mark.django_db]


def test_it_does_nothing_when_no_lead_is_pending(hainan):
    assert intake_run() is None
    assert IntakeBatch.objects.count() == 0


@pytest.mark.parametrize("source", [s for s in Source.values if s != Source.CLOSE_CONTACT])
def test_a_lead_of_every_source_becomes_a_task(hainan, source):
    send(lead(source=source))
    batch = intake_run()
    task = TracingTask.objects.get()
    assert task.batch == batch and task.status == TaskStatus.NEW
    assert Lead.objects.get().task == task


def test_it_merges_leads_for_the_same_person_across_sources(hainan):
    id_number = resident_id()
    send(
        lead(source="yellow_code", id_number=id_number, division_code="460105"),
        lead(source="red_code", id_number=id_number),
        lead(source="hotline", id_number=id_number),
    )
    batch = intake_run()
    task = TracingTask.objects.get()
    assert task.priority == Priority.RED_CODE
    assert task.division_id == HOME_VILLAGE  # the most precise division given
    assert sorted(task.leads.values_list("source", flat=True)) == ["hotline", "red_code", "yellow_code"]
    assert (batch.leads, batch.new_tasks, batch.merged, batch.unresolved) == (3, 1, 0, 0)


def test_a_15_digit_and_an_18_digit_id_make_one_task(hainan):
    send(lead(id_number="110105491231002"), lead(source="big_data", id_number="11010519491231002X"))
    intake_run()
    person = Person.objects.get()
    assert person.id_number == "11010519491231002X"
    assert TracingTask.objects.count() == 1


def test_phone_and_name_match_without_an_id(hainan):
    send(
        lead(id_number=None, phone="13912345678", name="张三"),
        lead(id_number=None, phone="139 1234 5678", name="张 三"),
    )
    intake_run()
    assert TracingTask.objects.count() == 1


def test_it_attaches_a_new_lead_to_the_open_task_and_raises_its_priority(hainan):
    id_number = resident_id()
    send(lead(source="hotline", id_number=id_number))
    first = intake_run()
    task = TracingTask.objects.get()
    assert task.priority == Priority.TIP
    send(lead(source="red_code", id_number=id_number))
    second = intake_run()
    task.refresh_from_db()
    assert TracingTask.objects.count() == 1
    assert task.priority == Priority.RED_CODE and task.batch == first
    assert (second.leads, second.new_tasks, second.merged) == (1, 0, 1)
    assert task.leads.count() == 2


def test_a_less_serious_lead_does_not_lower_the_priority_of_the_open_task(hainan):
    id_number = resident_id()
    send(lead(source="red_code", id_number=id_number))
    intake_run()
    send(lead(source="hotline", id_number=id_number))
    intake_run()
    assert TracingTask.objects.get().priority == Priority.RED_CODE


def test_a_closed_task_does_not_absorb_new_leads(hainan):
    id_number = resident_id()
    send(lead(id_number=id_number))
    intake_run()
    TracingTask.objects.update(status=TaskStatus.CLOSED)
    send(lead(id_number=id_number))
    batch = intake_run()
    assert TracingTask.objects.count() == 2
    assert (batch.new_tasks, batch.merged) == (1, 0)


def test_it_resolves_the_village_named_in_the_address(hainan):
    send(lead(division_code="460105", address="海口市秀英区长流镇长东村3组12号"))
    batch = intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == CHANGDONG_VILLAGE and task.unresolved_reason == ""
    assert batch.unresolved == 0


def test_the_address_alone_finds_the_county_then_the_village(hainan):
    send(lead(division_code=None, address="海南省海口市秀英区长流镇长东村3组12号"))
    intake_run()
    assert TracingTask.objects.get().division_id == CHANGDONG_VILLAGE


def test_an_ambiguous_address_leaves_the_task_on_the_township_with_a_reason(hainan):
    send(lead(division_code="460105", address="秀英区长东村与康安村交界处"))
    batch = intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == CHANGLIU_TOWNSHIP
    assert (
        "2" in task.unresolved_reason
        and "长东村委会" in task.unresolved_reason
        and "康安村委会" in task.unresolved_reason
    )
    assert batch.unresolved == 1


def test_an_address_naming_no_village_leaves_the_task_on_the_given_division(hainan):
    send(lead(division_code="460105", address="秀英区某某路12号"))
    batch = intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == "460105" and "秀英区" in task.unresolved_reason
    assert batch.unresolved == 1


def test_an_address_naming_only_the_township_narrows_the_task_to_it(hainan):
    send(lead(division_code="460105", address="秀英区长流镇某某路12号"))
    intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == CHANGLIU_TOWNSHIP and "长流镇" in task.unresolved_reason


def test_a_lead_without_address_on_a_township_is_unresolved_with_a_reason(hainan):
    send(lead(division_code=CHANGLIU_TOWNSHIP))
    intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == CHANGLIU_TOWNSHIP and "长流镇" in task.unresolved_reason


def test_close_contacts_become_tasks_linked_to_the_parent_one_generation_later(hainan):
    parent = TracingTaskFactory(generation=1)
    send(
        lead(source="close_contact", related_task=parent.pk, division_code=KANGAN_VILLAGE),
        lead(source="close_contact", related_task=parent.pk),
    )
    intake_run()
    children = TracingTask.objects.exclude(pk=parent.pk)
    assert children.count() == 2
    for child in children:
        assert (
            child.source_task == parent and child.generation == 2 and child.priority == Priority.CLOSE_CONTACT
        )


@time_machine.travel(BATCH_TIME, tick=False)
def test_the_dispatch_clock_starts_at_the_batch(hainan, settings):
    settings.DISPATCH_WINDOW_MINUTES = 30
    send(lead())
    batch = intake_run()
    task = TracingTask.objects.get()
    assert batch.started_at == BATCH_TIME
    assert task.dispatch_due == BATCH_TIME + timedelta(minutes=30)
    assert task.next_alert_at == BATCH_TIME + timedelta(minutes=24)


def test_the_batch_counts_leads_new_tasks_merged_and_unresolved(hainan):
    open_person = resident_id()
    send(lead(id_number=open_person))
    intake_run()
    shared = resident_id()
    send(
        lead(id_number=open_person, source="big_data"),  # merged into the open task
        lead(id_number=shared, source="red_code"),
        lead(id_number=shared, source="community"),  # same person: one new task
        lead(division_code="460105", address="秀英区某某路1号"),  # new, unresolved
        lead(division_code="460105", address="长流镇长东村"),  # new, resolved
    )
    batch = intake_run()
    assert (batch.leads, batch.new_tasks, batch.merged, batch.unresolved) == (5, 3, 1, 1)
    assert batch.status == IntakeBatch.Status.FINISHED and batch.finished_at >= batch.started_at
    assert Lead.objects.filter(pending__isnull=False).count() == 0


def test_a_person_who_got_an_active_task_meanwhile_has_the_leads_attached_to_it(hainan, caplog):
    from reports.rollups import rollup_differences

    send(
        lead(id_number=resident_id(), division_code=KANGAN_VILLAGE, source="red_code"),
        lead(id_number=resident_id()),
    )
    opened = {}

    def another_writer(cursor):
        # Between the batch's look at open tasks (step 4) and its insert, someone opens a task for a person
        # of the batch: the plain INSERT meets the one-active-task index and the batch falls back to ON CONFLICT.
        cursor.execute("SELECT person_id FROM intake_person WHERE division_id = %s", [KANGAN_VILLAGE])
        opened["task"] = TracingTaskFactory(
            person=Person.objects.get(pk=cursor.fetchone()[0]), division_id=KANGAN_VILLAGE
        )

    with (
        caplog.at_level("INFO", logger="tasks.intake"),
        mock.patch("tasks.dispatch.plan_intake_dispatch", side_effect=another_writer),
    ):
        batch = intake_run()
    assert "inserting with ON CONFLICT" in caplog.text
    assert (batch.leads, batch.new_tasks, batch.merged) == (2, 1, 1)
    assert TracingTask.objects.count() == 2
    assert list(opened["task"].leads.values_list("source", flat=True)) == ["red_code"]
    assert Lead.objects.filter(link__isnull=True).count() == 0
    assert all(not rows for rows in rollup_differences().values())  # the refused INSERT left no count behind


def test_without_a_race_the_tasks_are_inserted_in_one_plain_statement(hainan, caplog):
    send(lead(), lead())
    with caplog.at_level("INFO", logger="tasks.intake"):
        assert intake_run().new_tasks == 2
    assert "ON CONFLICT" not in caplog.text


def test_it_stores_what_dispatch_returns(hainan, no_dispatch):
    no_dispatch.return_value = 1
    send(lead())
    batch = intake_run()
    no_dispatch.assert_called_once()
    assert no_dispatch.call_args.kwargs["batch_id"] == batch.id
    batch.refresh_from_db()
    assert batch.dispatched == 1


def test_a_crash_midway_leaves_every_lead_pending(hainan):
    send(lead(), lead(), lead(division_code="460105", address="长流镇长东村"))
    with mock.patch.object(intake, "_create_tasks", side_effect=RuntimeError("disk full")):
        with pytest.raises(RuntimeError):
            intake_run()
    assert Lead.objects.filter(pending__isnull=False, link__isnull=True).count() == 3
    assert TracingTask.objects.count() == 0 and Person.objects.count() == 0
    failed = IntakeBatch.objects.get()
    assert failed.status == IntakeBatch.Status.FAILED and "disk full" in failed.error
    batch = intake_run()  # the next run takes them all, once
    assert batch.leads == 3 and TracingTask.objects.count() == 3


def test_a_crash_while_linking_leads_leaves_every_lead_pending(hainan):
    send(lead(), lead())
    with mock.patch.object(intake, "_link_leads", side_effect=RuntimeError("killed")):
        with pytest.raises(RuntimeError):
            intake_run()
    assert Lead.objects.filter(pending__isnull=False).count() == 2
    assert TracingTask.objects.count() == 0


def test_a_second_run_while_the_lock_is_held_does_nothing(hainan):
    send(lead())
    with connections["default"].cursor():
        pass
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [intake.INTAKE_LOCK_KEY])
            assert intake_run() is None
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert Lead.objects.filter(pending__isnull=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_consume_each_lead_exactly_once(hainan, no_dispatch):
    for _ in range(4):
        ingest_rows(
            [lead() for _ in range(250)] + [lead(division_code="460105", address="长流镇长东村")],
            channel="api",
        )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(intake_run())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Leads that arrived while the first run held the lock are taken by a later run.
    while intake_run():
        pass
    assert Lead.objects.filter(pending__isnull=False).count() == 0
    assert Lead.objects.filter(link__isnull=True).count() == 0
    batches = IntakeBatch.objects.filter(status=IntakeBatch.Status.FINISHED)
    assert sum(b.leads for b in batches) == Lead.objects.count() == 1004
    assert TracingTask.objects.count() == Person.objects.count() == 1004


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_racing_on_the_same_persons_never_open_two_tasks(hainan, no_dispatch):
    ids = [resident_id() for _ in range(50)]
    rounds = 4
    barrier = threading.Barrier(rounds)
    errors = []

    def run(n):
        try:
            ingest_rows([lead(id_number=i, source="big_data") for i in ids], channel="api")
            barrier.wait()
            for _ in range(3):
                intake_run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(rounds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while intake_run():
        pass
    assert errors == []
    assert TracingTask.objects.count() == 50
    assert Lead.objects.filter(link__isnull=True).count() == 0


def test_a_tasks_leads_are_found_through_the_hash_index_of_the_links(hainan):
    send(lead(), lead())
    intake_run()
    task = TracingTask.objects.first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL enable_seqscan = off"
        )  # a test table is tiny: make the planner show its index
    assert "leadlink_task" in task.leads.all().explain()
