"""Monitoring pages: the sub-unit's "due today" list and its check-in endpoint, the period page, the
person's own check-in link, the duty desk's alert list, the task page's monitoring section."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from monitoring import links
from monitoring.clock import local_day
from monitoring.models import CheckIn, MonitoringAlert, MonitoringPeriod, SampleDue
from monitoring.services.checkins import record_checkin
from tasks.models import AccessLog
from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
from tests.monitoring_fixtures import make_period
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


def running(division=None, *, started_days_ago: int = 2, days: int = 14, **kwargs) -> MonitoringPeriod:
    """A period running today (the pages work on the real clock)."""
    now = timezone.now()
    task = make_task(division, status="approved") if division else None
    return make_period(
        task, starts_on=local_day(now) - timedelta(days=started_days_ago), days=days, now=now, **kwargs
    )


@pytest.fixture
def bob(client, crew, password):
    client.login(username=crew["bob"].username, password=password)
    return client


@pytest.fixture
def alice(client, crew, password):
    client.login(username=crew["alice"].username, password=password)
    return client


def post_json(client, url, body):
    return client.post(
        url, data=json.dumps(body), content_type="application/json", HTTP_ACCEPT="application/json"
    )


def test_due_today_lists_the_village_with_day_x_of_y_and_samples(bob, crew):
    mine = running()
    today = local_day(timezone.now())
    SampleDue.objects.create(period=mine, schedule_day=1, due_on=today - timedelta(days=1))
    SampleDue.objects.create(period=mine, schedule_day=3, due_on=today)
    elsewhere = running(OTHER_VILLAGE_SAME_TOWNSHIP)
    ended = running(started_days_ago=20, days=14)
    html = bob.get("/field/monitoring/").content.decode()
    ids = [int(x) for x in re.findall(r'data-period="(\d+)" data-testid="due-person"', html)]
    assert ids == [mine.pk] and elsewhere.pk not in ids and ended.pk not in ids
    assert "第 3 天，共 14 天" in html
    assert 'data-testid="samples-overdue"' in html and 'data-testid="samples-due"' in html
    assert "正常" in html and "今日健康打卡" in html
    assert AccessLog.objects.filter(object_type="monitoringperiod", object_id=str(mine.pk)).exists()
    # No inline script or style (strict CSP).
    assert not re.search(r"\son[a-z]+\s*=", html) and not re.search(r"\sstyle\s*=", html)


def test_due_today_is_for_field_roles(alice):
    assert alice.get("/field/monitoring/").status_code == 403


def test_one_tap_normal_records_once_by_its_key(bob, crew):
    period = running()
    key = str(uuid.uuid4())
    url = f"/field/monitoring/{period.pk}/checkin/"
    first = post_json(bob, url, {"idempotency_key": key, "symptoms": []})
    assert first.status_code == 201, first.content
    again = post_json(bob, url, {"idempotency_key": key, "symptoms": []})
    assert again.status_code == 200 and again.json()["created"] is False
    checkin = CheckIn.objects.get(period=period)
    assert checkin.channel == "field" and checkin.temperature is None and checkin.symptoms == []
    assert checkin.recorded_by == crew["bob"] and not checkin.abnormal
    html = bob.get("/field/monitoring/").content.decode()
    assert 'data-state="done"' in html


def test_full_form_abnormal_raises_the_alert_and_errors_name_the_field(bob, crew):
    period = running()
    url = f"/field/monitoring/{period.pk}/checkin/"
    bad = post_json(bob, url, {"temperature": "hot", "idempotency_key": str(uuid.uuid4())})
    assert bad.status_code == 400 and "temperature" in bad.json()["errors"]
    bad = post_json(bob, url, {"symptoms": ["headache"], "idempotency_key": str(uuid.uuid4())})
    assert bad.status_code == 400 and "symptoms" in bad.json()["errors"]
    ok = post_json(
        bob,
        url,
        {
            "temperature": "38.2",
            "symptoms": ["cough"],
            "location": "家中",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert ok.status_code == 201 and ok.json()["abnormal"] is True
    assert MonitoringAlert.objects.filter(period=period, kind="abnormal").count() == 1


def test_a_plain_form_post_works_without_script(bob, crew):
    period = running()
    response = bob.post(
        f"/field/monitoring/{period.pk}/checkin/",
        {"temperature": "36.6", "symptoms": ["sore_throat"], "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 302 and response["Location"] == "/field/monitoring/"
    assert CheckIn.objects.get(period=period).symptoms == ["sore_throat"]


def test_another_villages_period_does_not_exist_for_the_field(bob, crew):
    other = running(OTHER_VILLAGE_SAME_TOWNSHIP)
    assert post_json(bob, f"/field/monitoring/{other.pk}/checkin/", {}).status_code == 404
    assert bob.get(f"/monitoring/{other.pk}/").status_code == 404


def test_the_period_page_shows_checkins_samples_alerts(alice, crew):
    period = running()
    record_checkin(period, channel="field", temperature="37.5", idempotency_key=uuid.uuid4())
    html = alice.get(f"/monitoring/{period.pk}/").content.decode()
    assert 'data-testid="checkin-row"' in html and "37.5" in html
    assert "异常" in html
    assert f"/tasks/{period.task_id}/" in html or f"T{period.task_id}" in html


def test_the_task_page_lists_its_periods(alice, crew):
    period = running()
    html = alice.get(f"/tasks/{period.task_id}/").content.decode()
    assert 'data-testid="task-monitoring"' in html and f"/monitoring/{period.pk}/" in html


def test_the_personal_link_checks_in_masked_and_expires(client, crew, settings):
    cache.clear()
    period = running()
    links.ensure_tokens([period.pk])
    token = links.token_for(period)
    html = client.get(f"/c/{token}/").content.decode()
    name = period.person.name
    assert name[0] + "*" in html and name not in html.replace(name[0] + "*", "")
    response = client.post(f"/c/{token}/", {"temperature": "36.4", "idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 302
    checkin = CheckIn.objects.get(period=period)
    assert checkin.channel == "person" and str(checkin.temperature) == "36.4"
    assert 'data-testid="checked-in"' in client.get(f"/c/{token}/").content.decode()
    bad = client.post(f"/c/{token}/", {"temperature": "99"})
    assert bad.status_code == 400 and "34.0" in bad.content.decode()
    assert client.get("/c/not-a-token/").status_code == 404
    # Past the period's last day + the grace days, the link is gone; released too.
    MonitoringPeriod.objects.filter(pk=period.pk).update(
        ends_on=local_day(timezone.now()) - timedelta(days=settings.CHECKIN_LINK_GRACE_DAYS + 1),
        starts_on=local_day(timezone.now()) - timedelta(days=20),
    )
    assert client.get(f"/c/{token}/").status_code == 404


def test_the_personal_link_is_rate_limited(client, crew):
    cache.clear()
    period = running()
    links.ensure_tokens([period.pk])
    token = links.token_for(period)
    codes = [client.get(f"/c/{token}/").status_code for _ in range(25)]
    assert codes[0] == 200 and codes[-1] == 429
    cache.clear()


def test_the_alert_list_shows_the_territorys_open_alerts_and_acknowledges(alice, crew):
    period = running()
    record_checkin(period, channel="field", temperature="38.5", idempotency_key=uuid.uuid4())
    other = running("460106001002")
    record_checkin(other, channel="field", temperature="39.0", idempotency_key=uuid.uuid4())
    html = alice.get("/monitoring/alerts/").content.decode()
    rows = re.findall(r'href="/monitoring/(\d+)/" data-testid="alert-period"', html)
    assert rows == [str(period.pk)]
    alert = MonitoringAlert.objects.get(period=period)
    assert alice.post(f"/monitoring/alerts/{alert.pk}/ack/").status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.acknowledged_by == crew["alice"]
    assert 'data-testid="no-alerts"' in alice.get("/monitoring/alerts/").content.decode()
    other_alert = MonitoringAlert.objects.get(period=other)
    assert alice.post(f"/monitoring/alerts/{other_alert.pk}/ack/").status_code == 404


def test_the_navigation_counts_open_alerts_for_the_desk(alice, crew):
    period = running()
    record_checkin(period, channel="field", symptoms=["fever"], idempotency_key=uuid.uuid4())
    html = alice.get("/monitoring/alerts/").content.decode()
    assert re.search(r'data-testid="monitoring-alert-count">1<', html)


def test_field_staff_do_not_read_the_alert_list(bob):
    assert bob.get("/monitoring/alerts/").status_code == 403


def test_a_masked_role_sees_neither_the_name_nor_where_the_person_is(client, crew, commander, password):
    period = running()
    record_checkin(period, channel="field", location="秀华路1号", idempotency_key=uuid.uuid4())
    client.login(username=commander.username, password=password)
    html = client.get(f"/monitoring/{period.pk}/").content.decode()
    assert "秀华路1号" not in html and period.person.name not in html
    assert period.person.name[0] + "*" in html
