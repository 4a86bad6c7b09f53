"""Scope entries of the monitoring periods' routes (docs/monitoring.md: API, release notice, statistics)
for tests/test_scope_routes.py, added with

    ROUTES = {..., **monitoring_life_routes(Detail, ListOf, NoObject)}

(inside the literal, so that the parametrized walks see them)

A period of another village does not exist for the field account: 404, also for the writes."""

from __future__ import annotations

from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP


def _period(division: str, **fields):
    from tests.monitoring_fixtures import make_period
    from tests.workflow_fixtures import make_task

    return make_period(make_task(division, status="approved"), **fields)


def other_village_period():
    return _period(OTHER_VILLAGE_SAME_TOWNSHIP)


def other_village_released_period():
    from django.utils import timezone

    return _period(OTHER_VILLAGE_SAME_TOWNSHIP, state="released", released_at=timezone.now())


def own_period():
    return _period(HOME_VILLAGE)


def monitoring_life_routes(Detail, ListOf, NoObject) -> dict:
    pk = lambda p: {"pk": p.pk}  # noqa: E731
    return {
        "monitoring-list": ListOf(
            other_village_period, key=lambda row: row["id"], value=lambda p: p.pk, own=own_period
        ),
        "monitoring-detail": Detail(other_village_period, kwargs=pk),
        "monitoring-checkins": Detail(other_village_period, kwargs=pk, method="post"),
        "monitoring-release": Detail(other_village_period, kwargs=pk, method="post"),
        "monitoring_release_pdf": Detail(other_village_released_period, kwargs=pk),
        # Aggregates of the caller's territory; a division outside it answers 404 (test_monitoring_stats).
        "monitoring-stats": NoObject(),
        "monitoring_stats": NoObject(),
    }
