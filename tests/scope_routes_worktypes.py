"""Scope entries of the work-type routes (docs/worktypes.md) for tests/test_scope_routes.py, added with

    from tests.scope_routes_worktypes import worktype_routes
    ROUTES.update(worktype_routes(Detail, NoObject))

Another village's task does not exist for the field account: 404 before any role check."""

from __future__ import annotations

from tests.scope_routes_workflow import other_village_task


def other_county_duplicate():
    """A likely-duplicate pair of two persons with open tasks in another county."""
    from tasks.duplicates import find_duplicates
    from tasks.models import DuplicateCandidate
    from tests.factories import PersonFactory
    from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, make_task

    for _ in range(2):
        person = PersonFactory(name="吴双", phone="13911112222")
        make_task(OTHER_COUNTY_VILLAGE, person=person, status="dispatched")
    find_duplicates()
    return DuplicateCandidate.objects.latest("id")


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
        # Likely duplicates: only pairs whose two persons have open tasks in the caller's territory.
        "person-duplicate-list": NoObject(),  # tests/test_people_duplicates.py
        "person-duplicate-scan": NoObject(),  # runs the job; shows nothing
        **{
            name: Detail(
                other_county_duplicate, kwargs=lambda c: {"pk": c.pk}, method="post", account="duty_officer"
            )
            for name in ("person-duplicate-dismiss", "person-duplicate-merge")
        },
        "duplicate_queue": NoObject(),  # the same selector as the API list
        "duplicate_scan": NoObject(),
        "duplicate_decide": Detail(
            other_county_duplicate,
            kwargs=lambda c: {"candidate_id": c.pk},
            method="post",
            account="duty_officer",
        ),
    }
