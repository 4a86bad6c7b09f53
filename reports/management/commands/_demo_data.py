"""Demo data for `seed_demo`: enough leads, tasks, reviews and notices that every page of every role shows
something, made through the real services (intake, dispatch, field work, review, notices) so the demo
walks the same paths as production. Idempotent: a second run finds its leads and does nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from tasks.models import Lead, TaskKind, TaskStatus, TracingTask, Unit, UnitMembership, User
from tasks.validation import id_check_digit

FIELD_VILLAGE = "460105001001"
MARKER = "demo-0001"
NAMES = (
    "王建国 李秀英 张伟 刘洋 陈静 杨帆 黄丽 赵磊 周敏 吴婷 徐强 孙悦 胡军 朱琳 高峰 林芳 何勇 郭佳".split()
)
VILLAGES = [FIELD_VILLAGE, FIELD_VILLAGE, FIELD_VILLAGE, "460105001002", "460105100200", "460105100201"]
SOURCES = ["red_code", "yellow_code", "big_data", "hotline", "community", "returnee"]


def _resident_id(n: int) -> str:
    first17 = f"460105{1960 + n:04d}0{(n % 9) + 1}1{n % 10}{n:03d}"[:17]
    return first17 + id_check_digit(first17)


def _lead_rows(now: datetime) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for n, name in enumerate(NAMES, start=1):
        rows.append(
            (
                n,
                {
                    "source": SOURCES[n % len(SOURCES)],
                    "external_id": f"demo-{n:04d}",
                    "name": name,
                    "id_number": _resident_id(n),
                    "phone": f"1390898{n:04d}",
                    "division_code": VILLAGES[n % len(VILLAGES)],
                    "address": f"秀英区秀华路{n}号",
                    "reason": "健康码红码" if n % 2 else "密接者",
                    "reported_at": (now - timedelta(hours=30 - n)).isoformat(),
                },
            )
        )
    # Rows the validator refuses: the intake page lists them with their reasons.
    rows.append((90, {"source": "hotline", "external_id": "demo-bad-1", "name": "错号", "id_number": "123"}))
    rows.append(
        (
            91,
            {
                "source": "hotline",
                "external_id": "demo-bad-2",
                "name": "",
                "phone": "12",
                "division_code": "1",
            },
        )
    )
    return rows


def _key() -> str:
    return str(uuid.uuid4())


def _fieldwork(task: TracingTask, actor: User, now: datetime) -> TracingTask:
    from tasks import fieldwork

    def ago(hours: float) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    def call(service: Any, data: dict[str, Any]) -> Any:
        fresh = TracingTask.objects.get(pk=task.pk)
        return service(task=fresh, actor=actor, data={**data, "version": fresh.version}, now=now)

    call(
        fieldwork.record_attempt,
        {
            "idempotency_key": _key(),
            "method": "phone",
            "reached": True,
            "attempted_at": ago(5),
            "note": "本人接听",
        },
    )
    call(
        fieldwork.record_radius,
        {
            "idempotency_key": _key(),
            "division_code": FIELD_VILLAGE,
            "address": "秀华路1号",
            "latitude": "20.0123",
            "longitude": "110.2345",
            "measure": "home_isolation",
            "controlled_at": ago(4),
        },
    )
    for start, place, lat, lon in (
        (72, "海口火车站", "20.029", "110.166"),
        (48, "友谊超市", "20.01", "110.23"),
    ):
        call(
            fieldwork.trajectory_add,
            {
                "idempotency_key": _key(),
                "started_at": ago(start),
                "ended_at": ago(start - 2),
                "place_name": place,
                "address": "秀英大道8号",
                "division_code": FIELD_VILLAGE,
                "latitude": lat,
                "longitude": lon,
                "activity": "购物",
                "transport": "bus",
                "companions": "无",
            },
        )
    call(
        fieldwork.record_contact,
        {
            "idempotency_key": _key(),
            "name": "李四",
            "phone": "13907551234",
            "relation": "colleague",
            "last_contact_at": ago(50),
            "last_contact_place": "办公室",
            "division_code": FIELD_VILLAGE,
        },
    )
    call(
        fieldwork.record_test,
        {"idempotency_key": _key(), "sampled_at": ago(3), "test_type": "nucleic_acid", "result": "negative"},
    )
    return call(fieldwork.submit, {"idempotency_key": _key()}).task


def seed_demo_data(*, now: datetime | None = None) -> bool:
    """Seed once; returns whether anything was created."""
    from notices.services.generation import notices_generate_from_proposals
    from notices.services.review import notice_approve
    from reviews.models import Review
    from reviews.services import review_approve, review_claim, review_comment, review_return
    from tasks import workflow
    from tasks.intake import intake_run
    from tasks.leads_io import import_rows

    now = now or timezone.now()
    if Lead.objects.filter(external_id=MARKER).exists():
        return False
    users = {u.username: u for u in User.objects.filter(username__in=["duty", "field", "expert", "city"])}
    field, expert = users["field"], users["expert"]
    import_rows(_lead_rows(now), source=None, channel="file", created_by_id=users["duty"].pk)
    # The batch ran six hours ago: the demo's field work then keeps its clocks, and the tasks nobody
    # touched show breached radius clocks on the dashboard.
    intake_run(now=now - timedelta(hours=6))

    unit = Unit.objects.filter(kind=Unit.Kind.SUBUNIT, division_id=FIELD_VILLAGE).first()
    if unit is not None:
        UnitMembership.objects.get_or_create(unit=unit, user=field)
    mine = list(
        TracingTask.objects.filter(division_id=FIELD_VILLAGE, status=TaskStatus.DISPATCHED).order_by("pk")
    )
    for task in mine:
        if task.assignee_id != field.pk:
            workflow.task_assign(task=task, actor=users["duty"], assignee=field)
    # The investigations first: the field work, review and return below are an investigation's.
    mine.sort(key=lambda task: (task.kind != TaskKind.INVESTIGATION, task.pk))
    submitted = []
    for task in mine[:3]:
        submitted.append(_fieldwork(TracingTask.objects.get(pk=task.pk), field, now))
    if len(mine) > 3:
        workflow.task_receive(task=TracingTask.objects.get(pk=mine[3].pk), actor=field)

    reviews = list(Review.objects.filter(task__in=submitted).order_by("task_id"))
    if reviews:
        returned = review_claim(review=reviews[0], actor=expert)
        entry = returned.task.trajectory_entries.order_by("started_at").first()
        review_comment(
            review=returned,
            actor=expert,
            body="到达海口火车站的时间与车次不符，请核实",
            target_kind="trajectory" if entry else None,
            target_id=entry.pk if entry else None,
        )
        review_comment(review=returned, actor=expert, body="请补充同行人员姓名")
        review_return(review=returned, actor=expert, reasons="行程时间矛盾，同行人员不全，请核实后重新提交")
    if len(reviews) > 1:
        approved = review_claim(review=reviews[1], actor=expert)
        review_approve(
            review=approved,
            actor=expert,
            disposal={
                "measure": "home_quarantine",
                "measure_days": 14,
                "test_schedule_days": [1, 4, 7],
                "notify_person": True,
                "note": "",
                "risk_areas": [],
            },
        )
        notices_generate_from_proposals()  # the proposal carries the wall-clock approval time
        from notices.models import Notice

        notice = Notice.objects.filter(task_id=approved.task_id).first()
        if notice is not None and users.get("duty"):
            notice_approve(notice=notice, actor=users["duty"])
    # The apps built on this one (duty) add their demo data through their AppConfig, not an import.
    from django.apps import apps

    for config in apps.get_app_configs():
        seed = getattr(config, "seed_demo", None)
        if callable(seed):
            seed(now=now)
    _monitoring(field, now)
    return True


def _monitoring(field: User, now: datetime) -> None:
    """Persons of the field account's village in health monitoring (day 3 of 14), so the demo shows the
    "due today" list: one already checked in, one with a fever (an alert on the duty desk), one sample
    overdue and one due today; the others wait for their check-in."""
    from monitoring.clock import first_due_day, local_day, next_moment
    from monitoring.models import MonitoringOrigin, MonitoringPeriod, SampleDue
    from monitoring.models.periods import OPEN_STATES
    from monitoring.services.checkins import record_checkin

    today = local_day(now)
    starts_on = today - timedelta(days=2)
    subunit = Unit.objects.filter(kind=Unit.Kind.SUBUNIT, division_id=FIELD_VILLAGE).first()
    monitored = MonitoringPeriod.objects.filter(state__in=OPEN_STATES).values("person_id")
    tasks = list(
        TracingTask.objects.filter(division_id=FIELD_VILLAGE)
        .exclude(person_id__in=monitored)
        .order_by("-pk")[:5]
    )
    periods = []
    for n, task in enumerate(tasks):
        due_day = first_due_day(starts_on, now)
        periods.append(
            MonitoringPeriod.objects.create(
                person_id=task.person_id,
                task=task,
                origin=MonitoringOrigin.REGISTRATION,
                measure="home_quarantine" if n % 2 else "health_monitoring",
                division_id=FIELD_VILLAGE,
                subunit=subunit,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=13),
                due_day=due_day,
                next_due_at=next_moment(due_day, 0),
                created_at=now,
                updated_at=now,
                state_changed_at=now,
            )
        )
    if len(periods) < 3:
        return
    SampleDue.objects.create(period=periods[0], schedule_day=1, due_on=starts_on)
    SampleDue.objects.create(period=periods[0], schedule_day=3, due_on=today)
    record_checkin(periods[1], channel="field", by=field, idempotency_key=uuid.uuid4(), now=now)
    record_checkin(
        periods[2],
        channel="field",
        temperature="37.9",
        symptoms=["cough"],
        location="家中",
        by=field,
        idempotency_key=uuid.uuid4(),
        now=now,
    )


def seed_demo_roster(*, now: datetime | None = None) -> bool:
    """A week of shifts at the county desk from yesterday (Beijing): 08:00–20:00 and 20:00–08:00,
    alternating `duty` and `duty2`, so one of them is on shift now and the other takes the handover.
    Skipped when the desk already has shifts."""
    from zoneinfo import ZoneInfo

    from tasks.models import DutyShift

    beijing = ZoneInfo("Asia/Shanghai")
    desk = Unit.objects.filter(kind=Unit.Kind.DUTY_DESK, division_id="460105").first()
    officers = list(User.objects.filter(username__in=["duty", "duty2"]).order_by("username"))
    if desk is None or len(officers) < 2 or DutyShift.objects.filter(unit=desk).exists():
        return False
    today = timezone.localtime(now or timezone.now(), beijing).date()
    start = datetime.combine(today - timedelta(days=1), datetime.min.time(), beijing).replace(hour=8)
    shifts = [
        DutyShift(
            unit=desk,
            user=officers[n % 2],
            starts_at=start + timedelta(hours=12 * n),
            ends_at=start + timedelta(hours=12 * (n + 1)),
        )
        for n in range(16)
    ]
    DutyShift.objects.bulk_create(shifts)
    return True
