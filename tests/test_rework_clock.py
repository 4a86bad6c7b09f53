"""The rework clock: an expert's return gives the field team REVIEW_RETURN_WINDOW_MINUTES to resubmit;
the sweep warns at 80 % and escalates at 100 %, once per round."""

from datetime import timedelta

import pytest

from tasks.clocks import compute_next_alert_at
from tasks.models import Escalation, TaskStatus
from tasks.sweep import sweep_step
from tasks.workflow import task_change_status, task_submit
from tests.workflow_fixtures import SECOND, T0, make_task

WINDOW = timedelta(minutes=120)


@pytest.fixture(autouse=True)
def window(settings):
    settings.REVIEW_RETURN_WINDOW_MINUTES = 120


def returned_task(crew, at):
    task = make_task(
        status=TaskStatus.SUBMITTED,
        assignee=crew["bob"],
        dispatched_at=at - timedelta(hours=9),
        radius_limited_at=at - timedelta(hours=8),
        traced_at=at - timedelta(hours=1),
        submitted_at=at,
    )
    return task_change_status(
        task=task,
        to_status=TaskStatus.RETURNED,
        now=at,
        reason="轨迹缺少 5 月 1 日下午",
        rework_due=at + WINDOW,
        rework_done_at=None,
    )


def escalations(task):
    return sorted(Escalation.objects.filter(task=task, clock="rework").values_list("level", "deadline"))


@pytest.mark.parametrize(("offset", "levels"), [(-SECOND, []), (SECOND, ["warning"])])
def test_the_rework_warning_fires_at_80_percent(crew, offset, levels):
    task = returned_task(crew, T0)
    sweep_step(now=T0 + WINDOW * 0.8 + offset)
    assert [level for level, _ in escalations(task)] == levels


@pytest.mark.parametrize(("offset", "levels"), [(-SECOND, ["warning"]), (SECOND, ["breach", "warning"])])
def test_the_rework_breach_fires_at_the_deadline(crew, offset, levels):
    task = returned_task(crew, T0)
    sweep_step(now=T0 + WINDOW * 0.8)
    sweep_step(now=T0 + WINDOW + offset)
    assert [level for level, _ in escalations(task)] == levels


def test_resubmission_stops_the_rework_clock(crew):
    task = returned_task(crew, T0)
    task = task_submit(task=task, actor=crew["bob"], now=T0 + timedelta(minutes=30))
    assert task.rework_done_at == T0 + timedelta(minutes=30)
    assert compute_next_alert_at(task) is None
    sweep_step(now=T0 + WINDOW + SECOND)
    assert escalations(task) == []


def test_a_second_return_is_a_new_round_with_its_own_escalations(crew):
    task = returned_task(crew, T0)
    sweep_step(now=T0 + WINDOW + SECOND)
    task = task_submit(task=task, actor=crew["bob"], now=T0 + WINDOW + timedelta(minutes=5))
    later = T0 + timedelta(hours=4)
    task_change_status(
        task=task,
        to_status=TaskStatus.RETURNED,
        now=later,
        reason="仍缺检测结果",
        rework_due=later + WINDOW,
        rework_done_at=None,
        clock_alerts=task.clock_alerts & ~(64 | 128),
    )
    sweep_step(now=later + WINDOW + SECOND)
    assert escalations(task) == [
        ("breach", T0 + WINDOW),
        ("breach", later + WINDOW),
        ("warning", T0 + WINDOW),
        ("warning", later + WINDOW),
    ]
