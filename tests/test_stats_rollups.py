"""The rollups (reports/rollup_sql.py) equal a live count after every kind of write to tasks: the
intake's set INSERT, the dispatch's bulk UPDATE, single transitions, a transfer (division change), the
sweep, deletes, and two writers at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction

from reports.rollups import rollup_differences, rollups_rebuild
from tasks.dispatch import dispatch_new_tasks
from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import TaskStatus, TracingTask
from tasks.sweep import sweep
from tasks.workflow import task_receive, task_transfer, task_transfer_accept
from tests.factories import IntakeBatchFactory, TracingTaskFactory
from tests.intake_helpers import lead, resident_id
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task


def assert_exact():
    diffs = rollup_differences()
    assert all(not rows for rows in diffs.values()), {k: sorted(v)[:5] for k, v in diffs.items() if v}


def total(code_prefix: str = "") -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n), 0) FROM reports_divisioncount WHERE division_code LIKE %s",
            [code_prefix + "%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_rollups_follow_the_intake_the_dispatch_and_the_sweep(hainan):
    ingest_rows(
        [lead(id_number=resident_id(seq=f"{i:03d}")) for i in range(12)] + [lead(division_code="460105")],
        channel="api",
    )
    batch = intake_run()
    assert batch is not None and TracingTask.objects.count() == 13
    assert total("460105") == 13
    assert_exact()
    sweep(now=T0 + timedelta(days=3650))  # every running clock far past its deadline: breach bits set
    assert_exact()
    TracingTask.objects.filter(status=TaskStatus.NEW).update(status=TaskStatus.CANCELLED)
    assert_exact()


@pytest.mark.django_db
def test_the_rollups_follow_transitions_a_transfer_and_deletes(crew, outsider):
    task = make_task()
    others = [make_task(priority=p) for p in (1, 3, 5)]
    assert_exact()
    dispatch_new_tasks(batch_id=task.batch_id, now=T0 + timedelta(minutes=5))
    task.refresh_from_db()
    task_receive(task=task, actor=crew["bob"], now=T0 + timedelta(minutes=10))
    assert_exact()
    task.refresh_from_db()
    task_transfer(
        task=task,
        actor=crew["alice"],
        division_code=OTHER_COUNTY_VILLAGE,
        reason="人在龙华区",
        now=T0 + timedelta(minutes=20),
    )
    task.refresh_from_db()
    task_transfer_accept(task=task, actor=outsider, now=T0 + timedelta(minutes=40))
    task.refresh_from_db()
    assert task.division_id == OTHER_COUNTY_VILLAGE
    assert total("460106") == 1
    assert_exact()
    TracingTask.objects.filter(pk=others[0].pk).update(division_id="460105001002", priority=2)
    assert_exact()
    TracingTask.objects.filter(pk__in=[o.pk for o in others[1:]]).delete()
    assert_exact()


@pytest.mark.django_db
def test_a_rolled_back_write_leaves_the_rollups_unchanged(hainan):
    make_task()
    before = total()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_task()
        raise RuntimeError
    assert total() == before
    assert_exact()


@pytest.mark.django_db
def test_a_rebuild_gives_the_same_rollups(hainan):
    for p in (1, 2, 2, 6):
        make_task(priority=p)
    rollups_rebuild()
    assert_exact()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writers_lose_no_update(hainan):
    """Two transactions insert and update tasks with the same rollup keys at the same time; both commit
    and the rollups equal a live count (ON CONFLICT ... n = n + delta, keys locked in order)."""
    batch = IntakeBatchFactory(started_at=T0)
    seed = [TracingTaskFactory(batch=batch, created_at=T0, person__person_key=f"seed:{i}") for i in range(10)]
    barrier = threading.Barrier(2)
    errors = []

    def writer(offset):
        try:
            barrier.wait(
                timeout=10
            )  # both start writing together; on a shared key the second waits for the first
            with transaction.atomic():
                for i in range(5):
                    TracingTaskFactory(batch=batch, created_at=T0, person__person_key=f"writer{offset}:{i}")
                TracingTask.objects.filter(pk__in=[t.pk for t in seed[offset::2]]).update(
                    status=TaskStatus.DISPATCHED, dispatched_at=T0
                )
                TracingTask.objects.filter(batch=batch, status=TaskStatus.NEW).exclude(
                    pk__in=[t.pk for t in seed]
                ).update(priority=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert TracingTask.objects.count() == 20
    assert total() == 20
    assert_exact()


def test_the_installed_trigger_function_is_the_one_rollup_sql_generates():
    # Migrations copy the SQL (they must not import app code): this keeps the copy and the source equal.
    import importlib

    from reports.rollup_sql import tasks_function_sql

    migration = importlib.import_module("reports.migrations.0031_kind_counts")
    assert migration.FUNCTION == tasks_function_sql()


@pytest.mark.django_db
def test_an_update_that_changes_no_rollup_key_leaves_the_rollups_alone(hainan):
    tasks = [make_task(priority=p) for p in (1, 2, 2)]
    before = dict(_rollup_rows())
    TracingTask.objects.filter(pk__in=[t.pk for t in tasks]).update(address="某路 1 号", version=7)
    assert _rollup_rows() == before
    assert_exact()


def _rollup_rows():
    with connection.cursor() as cursor:
        rows = {}
        for table in ("reports_divisioncount", "reports_batchcount", "reports_eventcount"):
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
            rows[table] = cursor.fetchall()
        return rows
