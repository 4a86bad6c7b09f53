"""The check-in core: one record per resent key, field errors by name, the clock moved on."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.clock import due_moment, first_due_day, is_abnormal, next_moment
from monitoring.models import CheckIn, MonitoringAlert
from monitoring.services.checkins import record_checkin
from tests.workflow_fixtures import T0

pytestmark = pytest.mark.django_db


def test_the_first_check_in_is_due_the_same_day_before_the_due_hour_else_the_next(settings):
    settings.CHECKIN_DUE_HOUR = 10
    day = date(2024, 5, 1)
    assert first_due_day(day, due_moment(day) - timedelta(minutes=1)) == day
    assert first_due_day(day, due_moment(day)) == day + timedelta(days=1)
    assert first_due_day(day + timedelta(days=2), due_moment(day)) == day + timedelta(days=2)


def test_abnormal_means_fever_or_any_symptom(settings):
    settings.CHECKIN_FEVER_TENTHS = 373
    assert not is_abnormal("37.2", [])
    assert is_abnormal("37.3", [])
    assert is_abnormal(None, ["cough"])
    assert not is_abnormal(None, [])


def test_a_check_in_ends_the_days_clock_and_a_resent_key_is_answered_once(period, crew):
    key = uuid.uuid4()
    assert period.due_day == date(2024, 5, 2)  # made at 10:00, the due hour: first due the next day
    morning = T0 + timedelta(hours=22)  # 2024-05-02 08:00 Beijing time
    first = record_checkin(
        period, channel="field", temperature="36.6", by=crew["bob"], idempotency_key=key, now=morning
    )
    again = record_checkin(
        period, channel="field", temperature="36.6", by=crew["bob"], idempotency_key=key, now=morning
    )
    assert first.created and not again.created and again.checkin.pk == first.checkin.pk
    assert CheckIn.objects.count() == 1
    period.refresh_from_db()
    assert period.due_day == date(2024, 5, 3)
    assert period.next_due_at == next_moment(date(2024, 5, 3), 0)
    assert not period.abnormal_open


def test_bad_fields_are_named_and_nothing_is_stored(period):
    with pytest.raises(ValidationError) as error:
        record_checkin(period, channel="field", temperature="hot", now=T0)
    assert "temperature" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        record_checkin(period, channel="field", symptoms=["sneezing"], now=T0)
    assert "symptoms" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        record_checkin(period, channel="field", idempotency_key="not-a-uuid", now=T0)
    assert "idempotency_key" in error.value.message_dict
    assert not CheckIn.objects.exists()


def test_an_abnormal_check_in_opens_an_abnormality_and_one_alert_a_day(period):
    record_checkin(period, channel="person", temperature="38.1", now=T0 + timedelta(hours=1))
    record_checkin(period, channel="person", symptoms=["cough"], now=T0 + timedelta(hours=2))
    period.refresh_from_db()
    assert period.abnormal_open
    assert MonitoringAlert.objects.filter(period=period, kind="abnormal").count() == 1


def test_no_check_in_outside_the_period(period):
    with pytest.raises(ValidationError) as error:
        record_checkin(period, channel="field", now=T0 + timedelta(days=30))
    assert "period" in error.value.message_dict
