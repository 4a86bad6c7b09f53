"""Each kind's clocks fire exactly once at their edges (±1 s), also with two sweeps at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from tasks.dispatch import dispatch_new_tasks
from tasks.models import Escalation, TaskKind, TracingTask
from tasks.sweep import sweep, sweep_step
from tasks.worktypes import task_change_kind
from tests.workflow_fixtures import SECOND, T0, make_task

D = T0 + timedelta(minutes=5)

# (kind, clock, window): warning at 80 % of the window, breach at the deadline.
CASES = [
    (TaskKind.VERIFICATION, "verify", timedelta(minutes=240)),
    (TaskKind.REGISTRATION, "register", timedelta(minutes=1440)),
    (TaskKind.INVESTIGATION, "radius", timedelta(hours=3)),
]


def dispatched(kind):
    task = make_task(kind=kind)
    dispatch_new_tasks(batch_id=task.batch_id, now=D)
    task.refresh_from_db()
    return task


@pytest.mark.parametrize(("kind", "clock", "window"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_s_clock_warns_and_breaches_once_at_its_edges(crew, kind, clock, window):
    task = dispatched(kind)
    warning = D + window * 0.8
    breach = D + window
    other = {"verify", "register", "radius", "trace"} - {clock} - ({"trace"} if clock == "radius" else set())
    for moment, level in ((warning, "warning"), (breach, "breach")):
        with time_machine.travel(moment - SECOND, tick=False):
            sweep(now=moment - SECOND)
        assert not Escalation.objects.filter(task=task, clock=clock, level=level).exists()
        with time_machine.travel(moment, tick=False):
            sweep(now=moment)
            sweep(now=moment + SECOND)
        assert Escalation.objects.filter(task=task, clock=clock, level=level).count() == 1
    assert not Escalation.objects.filter(task=task, clock__in=other).exists()


def test_the_clocks_of_an_escalated_task_start_at_the_escalation(crew):
    task = dispatched(TaskKind.VERIFICATION)
    at = D + timedelta(hours=2)
    task_change_kind(task=task, actor=crew["alice"], kind=TaskKind.INVESTIGATION, reason="阳性", now=at)
    task.refresh_from_db()
    assert task.verify_due is None and task.radius_due == at + timedelta(hours=3)
    assert task.trace_due == at + timedelta(hours=10)
    sweep(now=D + timedelta(hours=4))  # the old verification deadline: nothing
    assert not Escalation.objects.filter(task=task).exclude(clock="dispatch").exists()
    sweep(now=at + timedelta(hours=3))
    assert set(Escalation.objects.filter(task=task, clock="radius").values_list("level", flat=True)) == {
        "warning",
        "breach",
    }


# The investigation's clocks under two sweeps at once: tests/test_sweep*.py.
@pytest.mark.parametrize(("kind", "clock", "window"), CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_two_sweeps_at_once_record_each_escalation_of_the_lighter_kinds_once(
    transactional_db, hainan, kind, clock, window
):
    from tests.workflow_fixtures import HOME_VILLAGE, IntakeBatchFactory

    batch = IntakeBatchFactory(started_at=T0)
    from tests.factories import TracingTaskFactory

    tasks = [
        TracingTaskFactory(
            division_id=HOME_VILLAGE,
            batch=batch,
            created_at=T0,
            kind=kind,
            status="dispatched",
            dispatched_at=D,
            dispatch_due=T0 + timedelta(minutes=30),
            **{f"{clock}_due": D + window},
            next_alert_at=D + window * 0.8,
        )
        for _ in range(20)
    ]
    moment = D + window
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            sweep_step(now=moment, limit=7)
            sweep_step(now=moment, limit=7)
            sweep_step(now=moment, limit=7)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sweep(now=moment, workers=1)
    for task in tasks:
        levels = sorted(Escalation.objects.filter(task=task, clock=clock).values_list("level", flat=True))
        assert levels == ["breach", "warning"]
    assert not TracingTask.objects.filter(next_alert_at__lte=moment).exists()
