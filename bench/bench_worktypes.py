"""Ending tasks in bulk (docs/worktypes.md): closing 100,000 tasks in one action (a batch of false hits)
through `tasks.worktypes.tasks_close_bulk`, one set statement. Target: under 5 s.

Floor: one bare UPDATE of the same rows' status (no history, no checks), in the same run."""

from __future__ import annotations


def _make_tasks(bench, n: int) -> list[int]:
    from tasks.models import TracingTask

    # division_id, person_id and batch_id have no database constraint (TracingTask); the actor is a
    # superuser, whose scope is everything.
    village = "460105001001"
    with bench.connection.cursor() as cursor:
        # person_id and batch_id have no database constraint (TracingTask): numbers far from real ids.
        cursor.execute(
            """
            INSERT INTO tasks_tracingtask (person_id, status, kind, outcome, priority, division_id, unresolved_reason,
                address, batch_id, generation, created_at, updated_at, version, clock_alerts, legal_hold,
                legal_hold_reason, verification_found, dispatch_due, dispatched_at, verify_due, next_alert_at)
            SELECT 900000000 + g, 'dispatched', 'verification', '', 3, %s, '', '', 900000000, 0, now(), now(), 1, 0,
                   false, '', '', now(), now(), now() + interval '4 hours', now() + interval '3 hours'
            FROM generate_series(1, %s) g
            RETURNING id
            """,
            [village, n],
        )
        ids = [r[0] for r in cursor.fetchall()]
    assert TracingTask.objects.filter(pk__in=ids[:1]).exists()
    return ids


def _drop(bench, ids: list[int]) -> None:
    with bench.connection.cursor() as cursor:
        cursor.execute("DELETE FROM tasks_tasktransition WHERE task_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM tasks_tracingtask WHERE id = ANY(%s)", [ids])


def run(bench) -> None:
    from django.db import transaction

    from tasks.models import Role, User
    from tasks.worktypes import tasks_close_bulk

    n = bench.scaled(100_000, minimum=1_000)
    actor, _created = User.objects.get_or_create(
        username="bench-bulk-close", defaults={"role": Role.ADMIN, "is_superuser": True}
    )

    ids = _make_tasks(bench, n)
    with bench.connection.cursor() as cursor:
        # Tasks closed in service were created hours before and vacuumed since; the setup's WAL written
        # back now, not during the timed statements (as the intake and dispatch benches). Untimed.
        cursor.execute("VACUUM ANALYZE tasks_tracingtask")
        cursor.execute("CHECKPOINT")
        cursor.execute("BEGIN")
        with bench.timer() as floor:
            cursor.execute(
                "UPDATE tasks_tracingtask SET status = 'closed', outcome = 'false_hit' WHERE id = ANY(%s)",
                [ids],
            )
        cursor.execute("ROLLBACK")
        # The rolled-back floor left a dead version of every row and an entry for it in every index,
        # which a bulk close never meets in service: the close starts from the state the floor started from.
        cursor.execute("VACUUM tasks_tracingtask")
    with bench.timer() as timed, transaction.atomic():
        closed = tasks_close_bulk(task_ids=ids, actor=actor, outcome="false_hit", note="bench")
    assert closed == n, (closed, n)
    bench.report(
        f"bulk close of {n:,} tasks (false hits) in one action",
        timed.seconds,
        "s",
        floor=floor.seconds,
        target=5.0 * n / 100_000,
    )
    _drop(bench, ids)
