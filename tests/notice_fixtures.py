"""Fixtures of the notice tests (issue 8): desks at both levels, approved disposal proposals, notices in
any state, and a local SMS outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from notices import sms
from notices.models import Notice, NoticeSource, NoticeState
from notices.services.push import push_step
from notices.services.review import notice_approve
from reviews.models import DisposalProposal, Review
from tasks.models import Role
from tests.conftest import HOME_VILLAGE
from tests.factories import PersonFactory, TracingTaskFactory, UserFactory
from tests.workflow_fixtures import linked_lead

CST = dt_timezone(timedelta(hours=8))
ID_NUMBER = "46010519800101123X"
ADDRESS = "海口市秀英区长流镇长德村委会3巷18号"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in Haikou time, November 2026."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=CST)


@pytest.fixture
def city_desk(hainan):
    return UserFactory(username="cindy", full_name="市值班员", role=Role.DUTY_OFFICER, division_id="4601")


@pytest.fixture
def county_desk(duty_officer):
    return duty_officer


@pytest.fixture
def sms_outbox(settings):
    settings.NOTICE_SMS_BACKEND = "notices.sms.LocMemBackend"
    settings.NOTICE_SMS_OPTIONS = {}
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def approved_proposal(
    *,
    expert,
    division=HOME_VILLAGE,
    sources=("close_contact",),
    measure="home_quarantine",
    days=14,
    approved_at=None,
    phone="13900001111",
    name="王小明",
    notify=True,
) -> DisposalProposal:
    """A disposal proposal decided with an approving review, as reviews.services.review_approve leaves it."""
    approved_at = approved_at or timezone.now()
    person = PersonFactory(name=name, phone=phone, id_number=ID_NUMBER)
    task = TracingTaskFactory(person=person, division_id=division, status="approved", address=ADDRESS)
    for source in sources:
        linked_lead(
            task,
            source=source,
            reported_at=approved_at - timedelta(days=1),
            priority=2,
            division_id=division,
            address=ADDRESS,
            id_number=ID_NUMBER,
        )
    review = Review.objects.create(task=task, state="claimed", expert=expert, claimed_at=approved_at)
    proposal = DisposalProposal.objects.create(
        review=review,
        task=task,
        person=person,
        measure=measure,
        measure_days=days if measure != "none" else 0,
        test_schedule_days=[1, 3, 7],
        notify_person=notify,
        proposed_by=expert,
        approved_at=approved_at,
    )
    Review.objects.filter(pk=review.pk).update(state="decided", decision="approve", decided_at=approved_at)
    return proposal


def notice_in_review(
    *, division=HOME_VILLAGE, urgent=False, submitted_by=None, phone="13900002222", now=None
) -> Notice:
    now = now or timezone.now()
    person = PersonFactory(name="李四", phone=phone, id_number=ID_NUMBER)
    task = TracingTaskFactory(person=person, division_id=division, address=ADDRESS)
    return Notice.objects.create(
        person=person,
        task=task,
        division_id=division,
        source=NoticeSource.DISPOSAL,
        category="yellow_code",
        title="健康码黄码告知",
        text="李*您好：您的健康码为黄码，请于11月20日接受核酸检测。咨询电话：12320。",
        urgent=urgent,
        state=NoticeState.COUNTY_REVIEW,
        created_at=now,
        submitted_at=now,
        submitted_by=submitted_by,
    )


def approve_both(notice: Notice, county, city, now=None) -> Notice:
    notice_approve(notice=notice, actor=county, now=now)
    return notice_approve(notice=notice, actor=city, now=now)


def pushed_notice(county, city, *, now, urgent=False, phone="13900002222", division=HOME_VILLAGE) -> Notice:
    notice = notice_in_review(urgent=urgent, phone=phone, division=division, now=now)
    approve_both(notice, county, city, now=now)
    Notice.objects.filter(pk=notice.pk).update(push_after=now)
    assert push_step(now=now) >= 1
    notice.refresh_from_db()
    return notice
