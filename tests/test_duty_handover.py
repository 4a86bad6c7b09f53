"""Shift handovers: generated from the data of the shift's window and the desk's territory (controlled
clock), frozen as a snapshot, acknowledged by the next shift's officer only, printable as a watermarked
PDF; the section registry that other areas extend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from duty.models import Handover
from duty.services import handover as handovers
from monitoring.models import MonitoringAlert, MonitoringAlertKind, PeriodState
from tasks.models import DutyShift, Escalation, Role, Transfer, Unit
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.factories import UserFactory
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, T0, make_task

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def desk(hainan):
    return Unit.objects.get(kind=Unit.Kind.DUTY_DESK, division_id=HOME_COUNTY)


@pytest.fixture
def incoming(hainan):
    return UserFactory(username="dora", full_name="值班员乙", role=Role.DUTY_OFFICER, division_id=HOME_COUNTY)


@pytest.fixture
def shifts(desk, duty_officer, incoming):
    """alice 08:00–20:00 UTC+0 of T0's day (T0 is 02:00 UTC), then dora for the night."""
    day = DutyShift.objects.create(unit=desk, user=duty_officer, starts_at=T0, ends_at=T0 + 12 * HOUR)
    night = DutyShift.objects.create(
        unit=desk, user=incoming, starts_at=T0 + 12 * HOUR, ends_at=T0 + 24 * HOUR
    )
    return day, night


@pytest.fixture
def shift_data(hainan, duty_officer):
    """Inside the window and territory: two new tasks (one breached, one transferred away), a lost
    contact and an abnormal check-in. Outside: a task created before the shift, one of another county."""
    inside = make_task(HOME_VILLAGE, batch_at=T0 + HOUR)
    breached = make_task(HOME_VILLAGE, batch_at=T0 + 2 * HOUR)
    make_task(HOME_VILLAGE, batch_at=T0 - HOUR)  # before the shift
    make_task(OTHER_COUNTY_VILLAGE, batch_at=T0 + HOUR)  # another county
    Escalation.objects.create(
        task=breached,
        clock="radius",
        level="breach",
        due_at=T0 + 3 * HOUR,
        deadline=T0 + 3 * HOUR,
        division_id=HOME_VILLAGE,
    )
    Escalation.objects.create(
        task=breached,
        clock="radius",
        level="warning",
        due_at=T0 + 2 * HOUR,
        deadline=T0 + 3 * HOUR,
        division_id=HOME_VILLAGE,
    )
    Transfer.objects.create(
        task=inside,
        from_division_id=HOME_VILLAGE,
        to_division_id=OTHER_COUNTY_VILLAGE,
        from_status="dispatched",
        reason="人在外区",
        requested_by=duty_officer,
        requested_at=T0 + 4 * HOUR,
    )
    monitored = make_task(HOME_VILLAGE, status="approved", batch_at=T0 - 48 * HOUR)
    lost = make_period(monitored, state=PeriodState.LOST_CONTACT)
    MonitoringAlert.objects.create(
        period=lost, kind=MonitoringAlertKind.ABNORMAL, day=T0.date(), created_at=T0 + 5 * HOUR
    )
    MonitoringAlert.objects.create(
        period=lost, kind=MonitoringAlertKind.CHECKIN_REMINDER, day=T0.date(), created_at=T0 + 5 * HOUR
    )
    return {"inside": inside, "breached": breached, "lost": lost}


def test_the_handover_is_generated_from_the_shifts_window_and_territory(shifts, shift_data, duty_officer):
    day, night = shifts
    record = handovers.hand_over(actor=duty_officer, shift=day, notes="注意T1回访", now=T0 + 12 * HOUR)
    sections = record.snapshot["sections"]
    assert sections["new_tasks"]["count"] == 2
    assert set(sections["new_tasks"]["task_ids"]) == {shift_data["inside"].pk, shift_data["breached"].pk}
    assert sections["breached_tasks"] == {
        "count": 1,
        "task_ids": [shift_data["breached"].pk],
        "ids": [shift_data["breached"].pk],
    }
    assert sections["transferred_tasks"]["count"] == 1 and sections["transferred_tasks"]["task_ids"] == [
        shift_data["inside"].pk
    ]
    assert sections["lost_contact"]["count"] == 1
    assert sections["lost_contact"]["task_ids"] == [shift_data["lost"].task_id]
    assert sections["abnormal_checkins"]["count"] == 1
    assert sections["pending_reviews"]["count"] == 0 and sections["notices_waiting"]["count"] == 0
    assert (record.window_start, record.window_end) == (day.starts_at, day.ends_at)
    assert record.next_shift == night and record.notes == "注意T1回访"
    assert record.handed_over_by == duty_officer


def test_the_snapshot_stays_what_was_handed_over(shifts, shift_data, duty_officer):
    day, _night = shifts
    record = handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 12 * HOUR)
    make_task(HOME_VILLAGE, batch_at=T0 + 6 * HOUR)  # recorded late, after the handover
    record.refresh_from_db()
    assert record.snapshot["sections"]["new_tasks"]["count"] == 2


def test_when_a_shift_may_be_handed_over(shifts, duty_officer, incoming):
    day, night = shifts
    with pytest.raises(handovers.HandoverConflict):
        handovers.hand_over(actor=duty_officer, shift=day, now=T0 - HOUR)  # not started
    with pytest.raises(handovers.HandoverConflict):
        handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 9 * HOUR)  # 3 h before its end
    with pytest.raises(PermissionDenied):
        # Another field role, and not a roster editor: a CDC expert cannot hand over alice's shift.
        handovers.hand_over(
            actor=UserFactory(role=Role.CDC_EXPERT, division_id=HOME_COUNTY), shift=day, now=T0 + 11 * HOUR
        )
    early = handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 11 * HOUR)
    assert early.window_end == T0 + 11 * HOUR  # handed over early: the window ends now
    with pytest.raises(handovers.HandoverConflict) as caught:
        handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 12 * HOUR)
    assert caught.value.code == "already_handed_over"


def test_only_the_next_shifts_officer_acknowledges_once(shifts, duty_officer, incoming, commander):
    day, _night = shifts
    record = handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 12 * HOUR)
    for someone in (duty_officer, commander):
        with pytest.raises(PermissionDenied):
            handovers.acknowledge(actor=someone, handover=record, now=T0 + 12 * HOUR)
    done = handovers.acknowledge(actor=incoming, handover=record, now=T0 + 12 * HOUR + timedelta(minutes=5))
    assert (done.acknowledged_by, done.acknowledged_at) == (incoming, T0 + 12 * HOUR + timedelta(minutes=5))
    with pytest.raises(handovers.HandoverConflict):
        handovers.acknowledge(actor=incoming, handover=record, now=T0 + 13 * HOUR)


def test_no_next_shift_on_the_roster_refuses_the_acknowledgement(desk, duty_officer, incoming):
    last = DutyShift.objects.create(unit=desk, user=duty_officer, starts_at=T0, ends_at=T0 + 12 * HOUR)
    record = handovers.hand_over(actor=duty_officer, shift=last, now=T0 + 12 * HOUR)
    with pytest.raises(handovers.HandoverConflict) as caught:
        handovers.acknowledge(actor=incoming, handover=record, now=T0 + 12 * HOUR)
    assert caught.value.code == "no_next_shift"


def test_the_api_hands_over_and_acknowledges(api_client, shifts, duty_officer, incoming):
    day, night = shifts
    # Move the shifts to now: the API uses the real clock.
    from django.utils import timezone

    now = timezone.now()
    DutyShift.objects.filter(pk=day.pk).update(starts_at=now - 11 * HOUR, ends_at=now + HOUR)
    DutyShift.objects.filter(pk=night.pk).update(starts_at=now + HOUR, ends_at=now + 13 * HOUR)
    api_client.force_login(duty_officer)
    response = api_client.post(f"/api/v1/shifts/{day.pk}/handover/", {"notes": "无异常"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body["sections"]) >= {
        "new_tasks",
        "breached_tasks",
        "transferred_tasks",
        "lost_contact",
        "abnormal_checkins",
        "pending_reviews",
        "notices_waiting",
    }
    assert body["notes"] == "无异常" and body["acknowledged_at"] is None
    again = api_client.post(f"/api/v1/shifts/{day.pk}/handover/", {}, format="json")
    assert again.status_code == 409
    # The shift is history now: it cannot be edited or deleted.
    assert api_client.delete(f"/api/v1/shifts/{day.pk}/").status_code == 400
    refused = api_client.post(f"/api/v1/handovers/{body['id']}/acknowledge/")
    assert refused.status_code == 403
    api_client.force_login(incoming)
    acknowledged = api_client.post(f"/api/v1/handovers/{body['id']}/acknowledge/")
    assert acknowledged.status_code == 200
    assert acknowledged.json()["acknowledged_by"]["id"] == incoming.pk
    listed = api_client.get("/api/v1/handovers/").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert (
        api_client.post(
            f"/api/v1/shifts/{day.pk}/handover/", {"notes": "x" * 4001}, format="json"
        ).status_code
        == 400
    )


def test_the_pages_and_the_watermarked_pdf(client, shifts, duty_officer, incoming):
    from django.utils import timezone

    day, night = shifts
    now = timezone.now()
    DutyShift.objects.filter(pk=day.pk).update(starts_at=now - 11 * HOUR, ends_at=now + HOUR)
    DutyShift.objects.filter(pk=night.pk).update(starts_at=now + HOUR, ends_at=now + 13 * HOUR)
    client.force_login(duty_officer)
    page = client.get(f"/duty/shifts/{day.pk}/handover/")
    assert page.status_code == 200 and "值班员乙" in page.content.decode()
    response = client.post(f"/duty/shifts/{day.pk}/handover/", {"notes": "交班备注内容"})
    record = Handover.objects.get(shift=day)
    assert response.status_code == 302 and response["Location"] == f"/duty/handovers/{record.pk}/"
    html = client.get(f"/duty/handovers/{record.pk}/").content.decode()
    assert "交班备注内容" in html and 'data-testid="acknowledge"' not in html
    pdf = client.get(f"/duty/handovers/{record.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # The watermark text is the reader's (same helper as the report PDFs), rendered into the HTML.
    from tasks.watermark import watermark_text

    rendered = handovers.render_pdf.__globals__["render_to_string"](
        "duty/handover_pdf.html",
        {
            "handover": record,
            "sections": handovers.section_rows(record),
            "watermark": watermark_text(duty_officer),
            "tiles": range(2),
            "printed_at": now,
        },
    )
    assert watermark_text(duty_officer) in rendered and 'class="wm"' in rendered
    client.force_login(incoming)
    assert 'data-testid="acknowledge"' in client.get(f"/duty/handovers/{record.pk}/").content.decode()
    client.post(f"/duty/handovers/{record.pk}/acknowledge/")
    record.refresh_from_db()
    assert record.acknowledged_by == incoming


def test_a_section_registered_by_another_area_is_handed_over(shifts, duty_officer):
    day, _night = shifts
    handovers.register_section(
        "open_supervision_orders",
        "Open supervision orders",
        lambda w: {"count": 3, "task_ids": [], "ids": [1, 2, 3]},
    )
    try:
        record = handovers.hand_over(actor=duty_officer, shift=day, now=T0 + 12 * HOUR)
    finally:
        handovers.SECTIONS.pop("open_supervision_orders")
    assert record.snapshot["sections"]["open_supervision_orders"]["count"] == 3
    assert handovers.section_rows(record)[-1]["label"] == "open_supervision_orders"
