"""Scope entries of the roster, handover, workload and predicted-breaches routes (docs/duty.md) for tests/test_scope_routes.py:

    from tests.scope_routes_duty_roster import roster_routes
    ROUTES.update(roster_routes(Detail, ListOf, NoObject, PageList))

Walked by the home county's duty officer over another county's desk: its shifts and handovers do not
exist for them (404), lists leave them out."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.conftest import HOME_COUNTY, OTHER_COUNTY


def _desk(code):
    from tasks.models import Unit

    return Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=code)


def _shift(code, hours_ago=13):
    from tasks.models import DutyShift, Role
    from tests.factories import UserFactory

    officer = UserFactory(role=Role.DUTY_OFFICER, division_id=code)
    start = timezone.now() - timedelta(hours=hours_ago)
    return DutyShift.objects.create(
        unit=_desk(code), user=officer, starts_at=start, ends_at=start + timedelta(hours=12)
    )


def _handover(code):
    from duty.models import Handover

    shift = _shift(code)
    return Handover.objects.create(
        shift=shift,
        desk=shift.unit,
        window_start=shift.starts_at,
        window_end=shift.ends_at,
        snapshot={"sections": {}},
        handed_over_by=shift.user,
    )


def _due_soon(code):
    """A dispatched task of `code`'s first village whose radius clock runs out in five minutes: expected
    to breach (no worker is quicker than that), so the predicted-breaches page lists it."""
    from tasks.models import Division
    from tests.factories import TracingTaskFactory

    now = timezone.now()
    village = Division.objects.filter(level="village", code__startswith=code).order_by("code").first()
    return TracingTaskFactory(
        division=village,
        status="received",
        dispatched_at=now - timedelta(minutes=170),
        radius_due=now + timedelta(minutes=5),
    )


def roster_routes(Detail, ListOf, NoObject, PageList) -> dict:
    officer = "duty_officer"
    pk = lambda o: {"pk": o.pk}  # noqa: E731
    return {
        "shift-list": ListOf(
            lambda: _shift(OTHER_COUNTY),
            key=lambda r: r["id"],
            value=lambda s: s.id,
            own=lambda: _shift(HOME_COUNTY),
            account=officer,
        ),
        "shift-detail": Detail(lambda: _shift(OTHER_COUNTY), kwargs=pk, account=officer),
        "shift-handover": Detail(lambda: _shift(OTHER_COUNTY), kwargs=pk, method="post", account=officer),
        # Both ids are looked up among the caller's shifts: another county's is "no such shift" (400).
        "shift-swap": NoObject(),
        "handover-list": ListOf(
            lambda: _handover(OTHER_COUNTY),
            key=lambda r: r["id"],
            value=lambda h: h.id,
            own=lambda: _handover(HOME_COUNTY),
            account=officer,
        ),
        "handover-detail": Detail(lambda: _handover(OTHER_COUNTY), kwargs=pk, account=officer),
        "handover-acknowledge": Detail(
            lambda: _handover(OTHER_COUNTY), kwargs=pk, method="post", account=officer
        ),
        # ?division= outside the caller's scope answers 404 (tests/test_duty_workload.py).
        "workload": NoObject(),
        "duty_workload": NoObject(),
        # Likewise ?division= (tests/test_duty_predictions.py); the page's linked tasks leave out another
        # county's.
        "workload-predicted-breaches": NoObject(),
        "duty_predicted_breaches": PageList(
            lambda: _due_soon(OTHER_COUNTY),
            own=lambda: _due_soon(HOME_COUNTY),
            context_key="tasks",
            account=officer,
        ),
        "duty_roster": PageList(
            lambda: _desk(OTHER_COUNTY), own=lambda: _desk(HOME_COUNTY), context_key="desks", account=officer
        ),
        "duty_shift_edit": Detail(lambda: _shift(OTHER_COUNTY), kwargs=pk, account=officer),
        "duty_shift_swap": NoObject(),  # like shift-swap
        "duty_handover_new": Detail(
            lambda: _shift(OTHER_COUNTY), kwargs=lambda s: {"shift_id": s.pk}, account=officer
        ),
        "duty_handover_list": PageList(
            lambda: _handover(OTHER_COUNTY),
            own=lambda: _handover(HOME_COUNTY),
            context_key="handovers",
            account=officer,
        ),
        "duty_handover": Detail(lambda: _handover(OTHER_COUNTY), kwargs=pk, account=officer),
        "duty_handover_acknowledge": Detail(
            lambda: _handover(OTHER_COUNTY), kwargs=pk, method="post", account=officer
        ),
        "duty_handover_pdf": Detail(lambda: _handover(OTHER_COUNTY), kwargs=pk, account=officer),
    }
