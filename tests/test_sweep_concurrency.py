"""Two sweeps at the same time (separate connections, real transactions) record each escalation once
and notify each person once (issue 4: "two concurrent sweeps give one escalation")."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from tasks.dispatch import dispatch_new_tasks
from tasks.models import Escalation, Notification
from tasks.sweep import sweep
from tests.workflow_fixtures import T0, make_task

D = T0 + timedelta(minutes=5)


def _run_concurrently(functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def worker(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@pytest.fixture
def due_tasks(transactional_db, hainan, team_leader, duty_officer):
    from tasks.models import Unit

    team = Unit.objects.get(kind="team", division_id="460105001")
    team.leader = team_leader
    team.save()
    first = make_task()
    for _ in range(59):
        make_task(batch=first.batch)
    dispatch_new_tasks(batch_id=first.batch_id, now=D)
    return first.batch


@pytest.mark.parametrize("limit", [7, 5000])
def test_two_concurrent_sweeps_record_each_escalation_once(due_tasks, limit):
    moment = D + timedelta(hours=3, seconds=1)  # radius warning and breach due for all 60 tasks
    _run_concurrently([lambda: sweep(now=moment, limit=limit), lambda: sweep(now=moment, limit=limit)])
    assert Escalation.objects.count() == 120
    assert Escalation.objects.filter(level="breach").count() == 60
    # breach → team leader + duty officer, once each per task
    assert Notification.objects.filter(escalation__level="breach").count() == 120
    assert (
        Notification.objects.values("escalation", "recipient").distinct().count()
        == Notification.objects.count()
    )


def test_a_sweep_racing_a_field_milestone_does_not_lose_it(due_tasks, field_staff):
    from tasks.models import TracingTask, Unit, UnitMembership
    from tasks.workflow import task_mark_radius_limited, task_receive

    task = TracingTask.objects.filter(batch=due_tasks).first()
    UnitMembership.objects.get_or_create(
        unit=Unit.objects.get(kind="subunit", division_id="460105001001"), user=field_staff
    )
    task_receive(task=task, actor=field_staff, now=D + timedelta(minutes=30))
    moment = D + timedelta(hours=2, minutes=30)
    _run_concurrently(
        [
            lambda: sweep(now=moment),
            lambda: task_mark_radius_limited(task=task, actor=field_staff, now=moment),
        ]
    )
    task.refresh_from_db()
    assert task.radius_limited_at == moment
    # Whatever the order, the radius clock has stopped and next_alert_at is the trace warning.
    assert task.next_alert_at == D + timedelta(hours=8)


@pytest.mark.parametrize("limit", [7, 5000])
def test_a_large_sweep_shares_the_due_tasks_between_connections(due_tasks, monkeypatch, limit):
    import tasks.sweep as sweep_module

    monkeypatch.setattr(sweep_module, "PARALLEL_MIN_PER_WORKER", 10)  # 60 due: worth two connections here
    runs = []
    real = sweep_module._sweep_on_this_connection

    def recording(now, share, max_rounds):
        result = real(now, share, max_rounds)
        runs.append((threading.current_thread().name, share, result.tasks))
        return result

    monkeypatch.setattr(sweep_module, "_sweep_on_this_connection", recording)
    moment = D + timedelta(hours=3, seconds=1)
    result = sweep(now=moment, limit=limit, workers=2)
    # One share on the caller's connection, one on a thread's own connection; equal shares (at most the limit).
    assert sorted(name.startswith("sweep") for name, _, _ in runs) == [False, True]
    assert {share for _, share, _ in runs} == {min(limit, 30)}
    assert sum(tasks for _, _, tasks in runs) == result.tasks == 60
    assert (result.escalations, Escalation.objects.count()) == (120, 120)
    assert Notification.objects.filter(escalation__level="breach").count() == 120
    assert sweep(now=moment, workers=2).tasks == 0  # nothing left behind


def test_a_small_sweep_stays_on_one_connection(due_tasks, monkeypatch):
    import tasks.sweep as sweep_module

    def no_threads(*args, **kwargs):
        raise AssertionError("60 due tasks are not worth a second connection")

    monkeypatch.setattr(sweep_module, "ThreadPoolExecutor", no_threads)
    assert sweep(now=D + timedelta(hours=3, seconds=1), workers=2).escalations == 120
