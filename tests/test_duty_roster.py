"""The duty roster: the shifts API contract, validation (overlap, territory, desk), scope, swaps, the
week page, and the dashboard's warning when nobody is on shift at a desk."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import close_old_connections
from django.utils import timezone

from duty.models import ShiftSwap
from duty.services import roster
from tasks.models import DutyShift, Role, Unit
from tasks.selectors import desks_without_officer_on_shift
from tests.conftest import HOME_COUNTY, OTHER_COUNTY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=BEIJING)


@pytest.fixture
def desk(hainan):
    return Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=HOME_COUNTY)


@pytest.fixture
def colleague(hainan):
    return UserFactory(username="dora", full_name="值班员乙", role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)


def post_shift(client, desk, user, start, end):
    return client.post(
        "/api/v1/shifts/",
        {"unit": desk.pk, "user": user.pk, "starts_at": start.isoformat(), "ends_at": end.isoformat()},
        format="json",
    )


def test_a_duty_officer_creates_and_lists_shifts(api_client, duty_officer, colleague, desk):
    api_client.force_login(duty_officer)
    response = post_shift(api_client, desk, colleague, at(7, 8), at(7, 20))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["unit"] == desk.pk and body["user"] == colleague.pk
    assert body["officer"]["full_name"] == "值班员乙"
    assert body["desk"] == desk.name and body["division_code"] == HOME_COUNTY
    assert body["handover"] is None
    post_shift(api_client, desk, duty_officer, at(7, 20), at(8, 8))
    listed = api_client.get(
        "/api/v1/shifts/", {"unit": desk.pk, "date_from": "2026-12-07", "date_to": "2026-12-07"}
    )
    assert listed.status_code == 200
    assert [row["user"] for row in listed.json()["results"]] == [colleague.pk, duty_officer.pk]
    # The night shift starting on the 7th touches the 8th (Beijing dates).
    assert len(api_client.get("/api/v1/shifts/", {"date_from": "2026-12-08"}).json()["results"]) == 1
    assert api_client.get("/api/v1/shifts/", {"date_to": "2026-12-06"}).json()["results"] == []


def test_an_overlapping_shift_of_the_same_person_is_refused_with_a_field_error(
    api_client, duty_officer, colleague, desk
):
    api_client.force_login(duty_officer)
    assert post_shift(api_client, desk, colleague, at(7, 8), at(7, 20)).status_code == 201
    response = post_shift(api_client, desk, colleague, at(7, 19), at(8, 7))
    assert response.status_code == 400
    body = response.json()
    assert "user" in body["errors"] and "值班员乙" in body["errors"]["user"][0]
    # Touching ends are not an overlap; another person may overlap.
    assert post_shift(api_client, desk, colleague, at(7, 20), at(8, 8)).status_code == 201
    assert post_shift(api_client, desk, duty_officer, at(7, 19), at(8, 7)).status_code == 201
    # Editing a shift into an overlap is refused the same way.
    first = DutyShift.objects.get(user=colleague, starts_at=at(7, 8))
    patched = api_client.patch(
        f"/api/v1/shifts/{first.pk}/", {"ends_at": at(7, 21).isoformat()}, format="json"
    )
    assert patched.status_code == 400 and "user" in patched.json()["errors"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"ends_at": "2026-12-07T07:00:00+08:00"}, "ends_at"),
        ({"ends_at": "2026-12-10T08:00:00+08:00"}, "ends_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"unit": 999999}, "unit"),
        ({"user": 999999}, "user"),
        ({"user": None}, "user"),
    ],
)
def test_bad_input_names_the_field(api_client, duty_officer, colleague, desk, change, field):
    api_client.force_login(duty_officer)
    data = {
        "unit": desk.pk,
        "user": colleague.pk,
        "starts_at": at(7, 8).isoformat(),
        "ends_at": at(7, 20).isoformat(),
    }
    data.update(change)
    response = api_client.post("/api/v1/shifts/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_the_officer_must_belong_to_the_desks_territory(api_client, commander, outsider, field_staff, hainan):
    # A city commander sees both counties' desks and officers.
    api_client.force_login(commander)
    desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=HOME_COUNTY)
    response = post_shift(api_client, desk, outsider, at(7, 8), at(7, 20))
    assert response.status_code == 400 and "user" in response.json()["errors"]
    # Field staff are not duty officers.
    response = post_shift(api_client, desk, field_staff, at(7, 8), at(7, 20))
    assert response.status_code == 400 and "user" in response.json()["errors"]
    other_desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=OTHER_COUNTY)
    assert post_shift(api_client, other_desk, outsider, at(7, 8), at(7, 20)).status_code == 201


def test_scope_another_countys_shift_does_not_exist(api_client, duty_officer, outsider, hainan):
    other_desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=OTHER_COUNTY)
    shift = DutyShift.objects.create(unit=other_desk, user=outsider, starts_at=at(7, 8), ends_at=at(7, 20))
    api_client.force_login(duty_officer)
    assert api_client.get(f"/api/v1/shifts/{shift.pk}/").status_code == 404
    assert api_client.delete(f"/api/v1/shifts/{shift.pk}/").status_code == 404
    assert api_client.post(f"/api/v1/shifts/{shift.pk}/handover/", {}, format="json").status_code == 404
    assert api_client.get("/api/v1/shifts/").json()["results"] == []
    # Creating on another county's desk: the desk is not in the territory (a field error, not a leak).
    response = post_shift(api_client, other_desk, duty_officer, at(7, 8), at(7, 20))
    assert response.status_code == 400 and "unit" in response.json()["errors"]


def test_roles_that_may_not_edit_the_roster(api_client, field_staff, cdc_expert, auditor, desk, duty_officer):
    for account in (field_staff, cdc_expert):
        api_client.force_login(account)
        assert api_client.get("/api/v1/shifts/").status_code == 403
    api_client.force_login(auditor)
    assert api_client.get("/api/v1/shifts/").status_code == 200
    assert post_shift(api_client, desk, duty_officer, at(7, 8), at(7, 20)).status_code == 403


def test_update_and_delete(api_client, duty_officer, colleague, desk):
    api_client.force_login(duty_officer)
    shift_id = post_shift(api_client, desk, colleague, at(7, 8), at(7, 20)).json()["id"]
    response = api_client.put(
        f"/api/v1/shifts/{shift_id}/",
        {
            "unit": desk.pk,
            "user": duty_officer.pk,
            "starts_at": at(7, 9).isoformat(),
            "ends_at": at(7, 21).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["user"] == duty_officer.pk
    assert DutyShift.objects.get(pk=shift_id).starts_at == at(7, 9)
    assert api_client.delete(f"/api/v1/shifts/{shift_id}/").status_code == 204
    assert not DutyShift.objects.filter(pk=shift_id).exists()


def test_two_officers_swap_shifts_and_the_swap_is_recorded(api_client, duty_officer, colleague, desk):
    api_client.force_login(duty_officer)
    now = timezone.now()
    mine = DutyShift.objects.create(
        unit=desk,
        user=duty_officer,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=12),
    )
    theirs = DutyShift.objects.create(
        unit=desk,
        user=colleague,
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=12),
    )
    response = api_client.post(
        "/api/v1/shifts/swap/", {"first": mine.pk, "second": theirs.pk, "reason": "家中有事"}, format="json"
    )
    assert response.status_code == 200, response.json()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.user_id, theirs.user_id) == (colleague.pk, duty_officer.pk)
    swap = ShiftSwap.objects.get()
    assert (swap.first_officer_id, swap.second_officer_id, swap.swapped_by_id) == (
        duty_officer.pk,
        colleague.pk,
        duty_officer.pk,
    )
    assert swap.reason == "家中有事"
    # The same shift twice, or an unknown one: a field error.
    assert (
        "second"
        in api_client.post(
            "/api/v1/shifts/swap/", {"first": mine.pk, "second": mine.pk}, format="json"
        ).json()["errors"]
    )
    assert (
        "first"
        in api_client.post("/api/v1/shifts/swap/", {"first": 0, "second": mine.pk}, format="json").json()[
            "errors"
        ]
    )


def test_a_swap_that_would_double_book_someone_is_refused(duty_officer, colleague, desk):
    now = timezone.now()
    mine = DutyShift.objects.create(
        unit=desk, user=duty_officer, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=13)
    )
    theirs = DutyShift.objects.create(
        unit=desk,
        user=colleague,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=12),
    )
    # The colleague already works at the time of my shift elsewhere (a second shift of theirs).
    DutyShift.objects.create(
        unit=desk, user=colleague, starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=3)
    )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        roster.swap_shifts(actor=duty_officer, first=mine, second=theirs)
    assert "user" in caught.value.message_dict
    assert not ShiftSwap.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_overlapping_shifts_for_one_person_one_wins(hainan, django_db_blocker):
    desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=HOME_COUNTY)
    actor = UserFactory(role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)
    officer = UserFactory(role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def write(start_hour):
        try:
            barrier.wait()
            roster.create_shift(
                actor=actor,
                unit=desk,
                user=officer,
                starts_at=at(7, start_hour),
                ends_at=at(7, start_hour + 10),
            )
            results.append("ok")
        except Exception as exc:
            results.append(type(exc).__name__)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=write, args=(h,)) for h in (8, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ValidationError", "ok"]
    assert DutyShift.objects.filter(user=officer).count() == 1


def test_nobody_on_shift_warning_on_the_dashboard(client, duty_officer, desk):
    client.force_login(duty_officer)
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="no-one-on-shift"' in html and "当前无人值班" in html and desk.name in html
    now = timezone.now()
    DutyShift.objects.create(
        unit=desk, user=duty_officer, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    assert 'data-testid="no-one-on-shift"' not in client.get("/dashboard/").content.decode()


def test_desks_without_officer_on_shift_with_a_controlled_clock(duty_officer, commander, desk):
    DutyShift.objects.create(unit=desk, user=duty_officer, starts_at=at(7, 8), ends_at=at(7, 20))
    assert desk not in desks_without_officer_on_shift(duty_officer, now=at(7, 12))
    assert desk in desks_without_officer_on_shift(duty_officer, now=at(7, 20))
    assert desk in desks_without_officer_on_shift(duty_officer, now=at(7, 7))
    # A city commander sees every county desk of the city; only the covered one is left out.
    uncovered = desks_without_officer_on_shift(commander, now=at(7, 12))
    assert desk not in uncovered and uncovered.filter(division_id=OTHER_COUNTY).exists()


def test_the_week_page_adds_edits_and_deletes_shifts(client, duty_officer, colleague, desk):
    client.force_login(duty_officer)
    page = client.get("/duty/roster/", {"week": "2026-12-09"})
    assert page.status_code == 200
    assert page.context["monday"].isoformat() == "2026-12-07"
    response = client.post(
        "/duty/roster/?week=2026-12-07",
        {
            "desk": desk.pk,
            "user": colleague.pk,
            "starts_at": "2026-12-07T08:00",
            "ends_at": "2026-12-07T20:00",
        },
    )
    assert response.status_code == 302
    shift = DutyShift.objects.get(user=colleague)
    assert shift.starts_at == at(7, 8)  # the form's time is Beijing time
    html = client.get("/duty/roster/", {"week": "2026-12-07", "desk": desk.pk}).content.decode()
    assert "值班员乙" in html and "12-07 08:00" in html
    # An overlapping one: the page shows the reason, nothing is written.
    client.post(
        "/duty/roster/",
        {
            "desk": desk.pk,
            "week": "2026-12-07",
            "user": colleague.pk,
            "starts_at": "2026-12-07T10:00",
            "ends_at": "2026-12-07T12:00",
        },
    )
    assert DutyShift.objects.filter(user=colleague).count() == 1
    edit = client.post(
        f"/duty/roster/shifts/{shift.pk}/",
        {"user": colleague.pk, "starts_at": "2026-12-07T09:00", "ends_at": "2026-12-07T21:00"},
    )
    assert edit.status_code == 302
    shift.refresh_from_db()
    assert shift.ends_at == at(7, 21)
    client.post(f"/duty/roster/shifts/{shift.pk}/", {"action": "delete"})
    assert not DutyShift.objects.filter(pk=shift.pk).exists()


def test_the_week_page_swaps(client, duty_officer, colleague, desk):
    client.force_login(duty_officer)
    now = timezone.now()
    a = DutyShift.objects.create(
        unit=desk, user=duty_officer, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=12)
    )
    b = DutyShift.objects.create(
        unit=desk, user=colleague, starts_at=now + timedelta(hours=13), ends_at=now + timedelta(hours=24)
    )
    response = client.post("/duty/roster/swap/", {"first": a.pk, "second": b.pk, "desk": desk.pk, "week": ""})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.user_id == colleague.pk


def test_roster_page_of_another_countys_shift_is_404(client, duty_officer, outsider, hainan):
    other_desk = Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=OTHER_COUNTY)
    shift = DutyShift.objects.create(unit=other_desk, user=outsider, starts_at=at(7, 8), ends_at=at(7, 20))
    client.force_login(duty_officer)
    assert client.get(f"/duty/roster/shifts/{shift.pk}/").status_code == 404
    assert client.get(f"/duty/shifts/{shift.pk}/handover/").status_code == 404
