"""The clocks of notices (issue 8) with a controlled clock (time-machine, tick=False), one second before
and after each edge: push within 2 h (30 min urgent), quiet hours 22:00–07:00, one reminder, then the
village sub-unit's follow-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from notices.delivery import deliver_step
from notices.models import NoticeDelivery, NoticeFollowUp, NoticeState
from notices.schedule import push_schedule
from notices.services.person import notice_acknowledge
from notices.services.push import push_step, remind_step
from tasks.models import Unit
from tests.conftest import HOME_VILLAGE
from tests.notice_fixtures import approve_both, at, notice_in_review, pushed_notice

S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("approved", "urgent", "push_after", "push_due"),
    [
        (at(20, 10), False, at(20, 10), at(20, 12)),  # daytime: at once, due within 2 h
        (at(20, 10), True, at(20, 10), at(20, 10, 30)),  # urgent: at once, due within 30 min
        (
            at(20, 21, 30),
            False,
            at(21, 7),
            at(21, 8, 30),
        ),  # 21:30: waits for 07:00; 30 min before 22:00 + 90 after 07:00
        (at(20, 21, 30), True, at(20, 21, 30), at(20, 22)),  # urgent at night: at once
        (at(20, 23), False, at(21, 7), at(21, 9)),  # in the quiet hours
        (at(20, 23), True, at(20, 23), at(20, 23, 30)),
        (at(21, 6, 59, 59), False, at(21, 7), at(21, 9)),  # one second before the end of the quiet hours
        (at(21, 7, 0, 1), False, at(21, 7, 0, 1), at(21, 9, 0, 1)),  # one second after
        (
            at(20, 20, 59, 59),
            False,
            at(20, 20, 59, 59),
            at(21, 7, 59, 59),
        ),  # 1 s outside the margin: pushed at once
        (at(20, 21, 0, 1), False, at(21, 7), at(21, 7, 59, 59) + 2 * S),  # 1 s inside the margin: waits
    ],
)
def test_push_schedule(settings, approved, urgent, push_after, push_due):
    assert push_schedule(approved, urgent) == (push_after, push_due)


def test_the_quiet_hours_are_a_setting(settings):
    settings.NOTICE_QUIET_START, settings.NOTICE_QUIET_END = "23:00", "06:00"
    assert push_schedule(at(20, 21, 30), False)[0] == at(20, 21, 30)
    assert push_schedule(at(20, 22, 30), False)[0] == at(21, 6)


@pytest.mark.parametrize("urgent", [False, True])
def test_a_normal_notice_approved_at_2130_waits_for_0700_an_urgent_one_goes_at_once(
    county_desk, city_desk, sms_outbox, urgent
):
    notice = notice_in_review(urgent=urgent, now=at(20, 21))
    with time_machine.travel(at(20, 21, 30), tick=False):
        approve_both(notice, county_desk, city_desk)
        pushed_now = push_step()
    if urgent:
        assert pushed_now == 1
        return
    assert pushed_now == 0
    with time_machine.travel(at(21, 6, 59, 59), tick=False):
        assert push_step() == 0
        assert deliver_step() == 0
    with time_machine.travel(at(21, 7, 0, 1), tick=False):
        assert push_step() == 1
        assert deliver_step() == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.PUSHED and notice.pushed_at == at(21, 7, 0, 1)
    assert notice.pushed_at <= notice.push_due
    assert len(sms_outbox) == 1 and "/n/" in sms_outbox[0].text


def test_a_daytime_notice_is_pushed_by_the_next_step(county_desk, city_desk, sms_outbox):
    notice = notice_in_review(now=at(20, 9))
    with time_machine.travel(at(20, 10), tick=False):
        approve_both(notice, county_desk, city_desk)
        assert push_step() == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.PUSHED
    assert set(notice.deliveries.values_list("channel", "status")) == {("popup", "sent"), ("sms", "pending")}


def test_one_reminder_then_a_follow_up_for_the_village_sub_unit(settings, county_desk, city_desk, sms_outbox):
    settings.NOTICE_ACK_REMINDER_MINUTES = 120
    settings.NOTICE_ESCALATE_MINUTES = 120
    with time_machine.travel(at(20, 10), tick=False):
        notice = pushed_notice(county_desk, city_desk, now=at(20, 10))
    assert notice.remind_at == at(20, 12)
    with time_machine.travel(at(20, 12) - S, tick=False):
        assert remind_step() == 0
    with time_machine.travel(at(20, 12) + S, tick=False):
        assert remind_step() == 1
        assert remind_step() == 0  # one reminder only
        assert deliver_step() == 2  # the first SMS and the reminder
    assert [m.text.startswith("【疫情防控】提醒") for m in sms_outbox] == [False, True]
    notice.refresh_from_db()
    assert notice.reminder_sent_at == at(20, 12) + S and notice.escalate_at == at(20, 14) + S
    with time_machine.travel(at(20, 14), tick=False):
        assert remind_step() == 0
        assert not NoticeFollowUp.objects.exists()
    with time_machine.travel(at(20, 14) + 2 * S, tick=False):
        assert remind_step() == 1
        assert remind_step() == 0
    follow_up = NoticeFollowUp.objects.get(notice=notice)
    assert follow_up.unit == Unit.objects.get(kind="subunit", division_id=HOME_VILLAGE)
    assert follow_up.division_id == HOME_VILLAGE


def test_an_acknowledged_notice_gets_no_reminder(county_desk, city_desk, sms_outbox):
    with time_machine.travel(at(20, 10), tick=False):
        notice = pushed_notice(county_desk, city_desk, now=at(20, 10))
    with time_machine.travel(at(20, 11), tick=False):
        assert notice_acknowledge(notice=notice, channel="popup")
        assert not notice_acknowledge(notice=notice, channel="popup")  # once
    with time_machine.travel(at(20, 23), tick=False):
        assert remind_step() == 0
    assert not NoticeDelivery.objects.filter(kind="reminder").exists()


def test_a_normal_reminder_waits_for_the_morning_an_urgent_one_does_not(county_desk, city_desk, sms_outbox):
    with time_machine.travel(at(20, 20, 30), tick=False):
        normal = pushed_notice(county_desk, city_desk, now=at(20, 20, 30), phone="13900003333")
        urgent = pushed_notice(county_desk, city_desk, now=at(20, 20, 30), urgent=True, phone="13900004444")
    assert normal.remind_at == at(21, 7)  # 22:30 is in the quiet hours
    assert urgent.remind_at == at(20, 22, 30)
