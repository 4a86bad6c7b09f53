"""Scope entries of the work-type routes (docs/worktypes.md) for tests/test_scope_routes.py, added with

    from tests.scope_routes_worktypes import worktype_routes
    ROUTES.update(worktype_routes(Detail, NoObject))

Another village's task does not exist for the field account: 404 before any role check."""

from __future__ import annotations

from tests.scope_routes_workflow import other_village_task


def worktype_routes(Detail, NoObject) -> dict:
    task_kwargs = lambda t: {"task_id": t.pk}  # noqa: E731
    return {
        **{
            name: Detail(other_village_task, kwargs=task_kwargs, method="post")
            for name in ("task-kind", "task-close", "task-cancel", "task-reopen", "task-verification")
        },
        "task-merge": NoObject(),  # both ids looked up in the caller's territory (tests/test_worktypes_end.py)
        "task-bulk-close": NoObject(),  # closes only the ids inside the caller's territory
        "task_detail": Detail(other_village_task, kwargs=task_kwargs),
        "task_merge": NoObject(),  # duty desk only (403), then both tasks through the scope (404)
    }
