"""The statistics by kind and by outcome read the per-kind rollup (reports_kindcount), kept exact by the
rollup trigger through every way a task ends or comes back: close, bulk close, cancel, merge, reopen,
a change of kind; the API's JSON keys are unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection

from reports import stats
from reports.rollups import rollup_differences, rollups_rebuild
from tasks.models import TaskKind
from tasks.workflow import task_dispatch
from tasks.worktypes import (
    task_cancel,
    task_change_kind,
    task_close,
    task_merge,
    task_reopen,
    tasks_close_bulk,
)
from tests.conftest import HOME_COUNTY
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db

# 2024-05-02 09:30 Beijing time; its local midnight is 2024-05-01 16:00 UTC.
NOW = datetime(2024, 5, 2, 1, 30, tzinfo=UTC)
MIDNIGHT = datetime(2024, 5, 1, 16, 0, tzinfo=UTC)


def assert_exact():
    diffs = rollup_differences()
    assert not diffs["reports_kindcount"], sorted(diffs["reports_kindcount"])[:5]
    assert all(not rows for rows in diffs.values())


def live_by_kind(since, until) -> dict[str, tuple[int, int, int, int]]:
    """The old live count, at the rollup's hour granularity for the window."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT kind, count(*) FILTER (WHERE status IN ('new','dispatched','received','radius_limited',
                          'traced','submitted','returned','transferring')),
                      count(*) FILTER (WHERE status = 'closed' AND closed_at >= %s),
                      count(*) FILTER (WHERE status = 'closed' AND outcome = 'lost_contact'),
                      count(*) FILTER (WHERE status IN ('closed', 'cancelled', 'merged')
                                       AND date_trunc('hour', closed_at) >= date_trunc('hour', %s::timestamptz)
                                       AND closed_at < %s)
               FROM tasks_tracingtask WHERE division_id LIKE %s GROUP BY 1""",
            [MIDNIGHT, since, until, HOME_COUNTY + "%"],
        )
        return {row[0]: tuple(int(v) for v in row[1:]) for row in cursor.fetchall()}


def query(group_by: str) -> stats.Query:
    return stats.Query(HOME_COUNTY, "township", [], [], NOW - timedelta(hours=24), NOW, group_by)


def test_per_kind_counts_follow_every_way_a_task_ends_and_comes_back(crew):
    alice = crew["alice"]
    verifications = [task_dispatch(task=make_task(kind=TaskKind.VERIFICATION)) for _ in range(4)]
    investigations = [task_dispatch(task=make_task(kind=TaskKind.INVESTIGATION)) for _ in range(3)]
    registration = task_dispatch(task=make_task(kind=TaskKind.REGISTRATION))
    yesterday = MIDNIGHT - timedelta(minutes=1)
    task_close(task=investigations[0], actor=alice, outcome="lost_contact", now=yesterday)
    task_close(task=investigations[1], actor=alice, outcome="no_risk", now=MIDNIGHT)
    assert_exact()
    closed = tasks_close_bulk(
        task_ids=[t.pk for t in verifications[:2]],
        actor=alice,
        outcome="false_hit",
        now=NOW - timedelta(hours=1),
    )
    assert closed == 2
    task_cancel(task=verifications[2], actor=alice, reason="重复", now=NOW - timedelta(minutes=50))
    task_merge(
        keep=investigations[2],
        merge=verifications[3],
        actor=alice,
        reason="同一人",
        now=NOW - timedelta(minutes=40),
    )
    task_reopen(task=investigations[1], actor=alice, reason="复核", now=NOW - timedelta(minutes=30))
    task_change_kind(task=registration, actor=alice, kind=TaskKind.VERIFICATION, reason="核查", now=NOW)
    assert_exact()

    with mock.patch("reports.stats._now", return_value=NOW):
        table = stats.by_kind(query("kind"))
        outcomes = stats.by_outcome(query("outcome"))
    assert table.columns == ["kind", "label", "open", "closed_today", "lost_contact", "ended"]
    got = {row[0]: tuple(row[2:]) for row in table.rows}
    live = live_by_kind(NOW - timedelta(hours=24), NOW)
    assert got == {kind: live.get(kind, (0, 0, 0, 0)) for kind in TaskKind.values}
    assert got["verification"] == (1, 2, 0, 4)  # the former registration is open; 2 false hits today
    assert got["investigation"] == (2, 0, 1, 1)  # reopened + the kept one; the lost contact of yesterday
    assert sorted(map(tuple, outcomes.rows)) == [
        ("investigation", "lost_contact", 1),
        ("verification", "cancelled", 1),
        ("verification", "false_hit", 2),
        ("verification", "merged", 1),
    ]


def test_the_rebuild_recomputes_the_per_kind_rollup(crew):
    task = task_dispatch(task=make_task(kind=TaskKind.VERIFICATION))
    task_close(task=task, actor=crew["alice"], outcome="no_risk", now=NOW)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE reports_kindcount SET n = n + 5")
    assert rollup_differences()["reports_kindcount"]
    rollups_rebuild()
    assert_exact()


def test_the_statistics_api_reads_the_rollup_with_its_json_keys(api_client, crew, commander):
    task = task_dispatch(task=make_task(kind=TaskKind.VERIFICATION))
    task_close(task=task, actor=crew["alice"], outcome="false_hit")
    with connection.cursor() as cursor:
        # Only the rollup knows this one: the API must have read it.
        cursor.execute(
            "INSERT INTO reports_kindcount (division_code, kind, status, outcome, closed_hour, n) "
            "VALUES (%s, 'registration', 'dispatched', '', TIMESTAMPTZ '1970-01-01 00:00:00+00', 7)",
            [HOME_COUNTY + "001001"],
        )
    api_client.force_authenticate(commander)
    rows = {r["kind"]: r for r in api_client.get("/api/v1/stats/", {"group_by": "kind"}).json()["results"]}
    assert set(rows["verification"]) == {"kind", "label", "open", "closed_today", "lost_contact", "ended"}
    assert rows["registration"]["open"] == 7
    assert rows["verification"]["ended"] == 1
