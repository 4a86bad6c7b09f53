"""The person's two check-in channels through the notices: the reminder SMS with the personal link, and
the SMS reply read as a check-in (matched by the phone's keyed hash, never by decrypting)."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from monitoring import hooks
from monitoring.clock import local_day
from monitoring.models import CheckIn, CheckInSms, MonitoringAlert, MonitoringPeriod
from monitoring.services.replies import parse_reply
from notices import sms
from notices.checkin_sms import FLOW
from notices.services.person import sms_inbound
from tasks.outbox import deliver_step
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import T0

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "temperature", "symptoms"),
    [
        ("36.5", Decimal("36.5"), []),
        (" 36.8 咳嗽", Decimal("36.8"), ["cough"]),
        ("正常", None, []),
        ("体温37.4度，发烧", Decimal("37.4"), ["fever"]),
        ("36.6 喉咙痛 味觉不好", Decimal("36.6"), ["sore_throat", "loss_of_smell_taste", "other"]),
        ("36.5 头痛", Decimal("36.5"), ["other"]),
        ("37", Decimal("37.0"), []),
        ("36,9", Decimal("36.9"), []),
    ],
)
def test_replies_that_read_as_checkins(text, temperature, symptoms):
    reply = parse_reply(text)
    assert reply is not None
    assert reply.temperature == temperature
    assert sorted(reply.symptoms) == sorted(symptoms)


@pytest.mark.parametrize("text", ["", "1", "好的", "我不是密接，那天不在现场", "13912345678", "365"])
def test_replies_that_do_not(text):
    assert parse_reply(text) is None


def test_the_reminder_queues_one_sms_with_the_link_outside_the_quiet_hours(crew, sms_outbox, client):
    period = make_period()
    night = T0 + timedelta(hours=13)  # 23:00 Beijing time: quiet hours
    hooks.person_reminders([period.pk], day=local_day(T0), now=night)
    hooks.person_reminders([period.pk], day=local_day(T0), now=night)  # a second sweep: nothing more
    row = CheckInSms.objects.get(period=period)
    assert row.phone_hash == period.person.phone_hash and row.phone_hash
    assert timezone.localtime(row.next_attempt_at).hour == 7  # sent when the quiet hours end
    period.refresh_from_db()
    assert len(period.link_token_hash) == 64
    assert deliver_step(FLOW, now=night) == 0
    assert deliver_step(FLOW, now=row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.status == "sent" and len(sms_outbox) == 1
    message = sms_outbox[0]
    assert message.to == period.person.phone and "36.5" in message.body
    token = re.search(r"/c/([\w-]+)/", message.body).group(1)
    # The database holds only the hash of the token.
    assert token not in period.link_token_hash
    # The link is the period's (its page answers as long as the period runs today).
    MonitoringPeriod.objects.filter(pk=period.pk).update(
        starts_on=local_day(timezone.now()) - timedelta(days=1),
        ends_on=local_day(timezone.now()) + timedelta(days=5),
    )
    assert client.get(f"/c/{token}/").status_code == 200


def test_a_reminder_for_a_released_person_is_not_sent(crew, sms_outbox):
    period = make_period()
    hooks.person_reminders([period.pk], day=local_day(T0), now=T0)
    MonitoringPeriod.objects.filter(pk=period.pk).update(state="released")
    deliver_step(FLOW, now=T0 + timedelta(minutes=1))
    assert CheckInSms.objects.get(period=period).status == "failed" and not sms_outbox


def test_an_sms_reply_becomes_a_checkin_matched_by_the_phone_hash(crew):
    period = make_period()
    hooks.person_reminders([period.pk], day=local_day(T0), now=T0)
    phone = period.person.phone
    at = T0 + timedelta(minutes=30)
    result = sms_inbound(sender=f"+86{phone}", text="36.8 咳嗽", now=at)
    assert result["result"] == "checkin"
    checkin = CheckIn.objects.get(pk=result["checkin"])
    assert (
        checkin.channel == "sms" and checkin.temperature == Decimal("36.8") and checkin.symptoms == ["cough"]
    )
    assert checkin.abnormal and MonitoringAlert.objects.filter(period=period, kind="abnormal").count() == 1
    normal = sms_inbound(sender=phone, text="正常", now=at + timedelta(minutes=5))
    assert normal["result"] == "checkin" and CheckIn.objects.filter(period=period).count() == 2
    # Not a check-in: it stays with the notices (here: no notice to give feedback on).
    assert sms_inbound(sender=phone, text="请问什么时候解除？", now=at)["result"] == "ignored"
    # Another number, same words: no reminder went there.
    assert sms_inbound(sender="13800000000", text="36.5", now=at)["result"] == "ignored"
    assert CheckIn.objects.filter(period=period).count() == 2


def _post_signed(client, payload: dict):
    """The gateway's inbound webhook call, signed with the secret the tests set."""
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    return client.post(
        "/api/v1/notices/sms-inbound/",
        data=body,
        content_type="application/json",
        HTTP_X_NOTICE_TIMESTAMP=ts,
        HTTP_X_NOTICE_SIGNATURE=sms.sign("inbound-secret", ts, body),
    )


def test_the_signed_webhook_records_the_reply(client, crew, settings):
    settings.NOTICE_SMS_INBOUND_SECRET = "inbound-secret"
    now = timezone.now()
    period = make_period(starts_on=local_day(now) - timedelta(days=1), now=now)
    hooks.person_reminders([period.pk], day=local_day(now), now=now)
    response = _post_signed(client, {"from": period.person.phone, "text": "36.5"})
    assert response.status_code == 200 and response.json()["result"] == "checkin"
    assert CheckIn.objects.get(period=period).channel == "sms"


def test_a_redelivered_sms_reply_is_one_checkin(client, crew, settings):
    """A gateway that delivers the same inbound message again (same message id) gets the check-in already
    stored; another message with the same words but its own id is a check-in of its own."""
    settings.NOTICE_SMS_INBOUND_SECRET = "inbound-secret"
    now = timezone.now()
    period = make_period(starts_on=local_day(now) - timedelta(days=1), now=now)
    hooks.person_reminders([period.pk], day=local_day(now), now=now)

    def deliver(message_id: str, text: str = "37.6 咳嗽") -> dict:
        response = _post_signed(client, {"from": period.person.phone, "text": text, "id": message_id})
        assert response.status_code == 200
        return response.json()

    first = deliver("gw-20261207-0001")
    again = deliver("gw-20261207-0001")
    assert first["result"] == again["result"] == "checkin"
    assert again["checkin"] == first["checkin"] and again["duplicate"] is True and "duplicate" not in first
    assert CheckIn.objects.filter(period=period).count() == 1
    # The abnormal reply alerted once, not once per delivery.
    assert MonitoringAlert.objects.filter(period=period, kind="abnormal").count() == 1
    other = deliver("gw-20261207-0002", "36.5")
    assert other["checkin"] != first["checkin"] and CheckIn.objects.filter(period=period).count() == 2
    # Without a message id, the same words from the same number on the same day are one check-in (a
    # redelivery and a repeated reply say the same); other words are a check-in of their own.
    plain = sms_inbound(sender=period.person.phone, text="36.6", now=now)
    assert plain["result"] == "checkin" and "duplicate" not in plain
    repeated = sms_inbound(sender=period.person.phone, text=" 36.6。", now=now + timedelta(minutes=3))
    assert repeated["checkin"] == plain["checkin"] and repeated["duplicate"] is True
    assert CheckIn.objects.filter(period=period).count() == 3
    assert sms_inbound(sender=period.person.phone, text="36.7", now=now)["checkin"] != plain["checkin"]
    assert CheckIn.objects.filter(period=period).count() == 4
