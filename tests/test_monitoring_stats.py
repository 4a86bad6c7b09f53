"""Monitoring statistics: today's figures, case status counts and the measure execution rate by division
and day, scoped to the reader's territory; the API, the page and its CSV export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import stats
from monitoring.clock import due_moment
from monitoring.models import MonitoringAlert, SampleDue
from monitoring.services.checkins import record_checkin
from tests.conftest import HOME_TOWNSHIP, HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.monitoring_fixtures import FIRST_DAY, make_period
from tests.workflow_fixtures import T0, make_task

pytestmark = pytest.mark.django_db

DAY2 = FIRST_DAY + timedelta(days=1)
DAY3 = FIRST_DAY + timedelta(days=2)
# Day 3 at noon, Beijing time: past the due hour.
NOW = due_moment(DAY3) + timedelta(hours=2)


@pytest.fixture
def monitored(crew):
    """Three periods of the home village made at T0 (day 1, due hour: first due day 2) and one of the
    other village. Day 2: a and b check in; day 3: a checks in with fever, b does not, c is lost."""
    a = make_period()
    b = make_period()
    c = make_period(state="lost_contact")
    other = make_period(make_task(OTHER_VILLAGE_SAME_TOWNSHIP, status="approved"))
    for period in (a, b):
        record_checkin(period, channel="field", temperature="36.5", now=due_moment(DAY2) - timedelta(hours=1))
    record_checkin(a, channel="field", temperature="38.1", now=NOW - timedelta(hours=1))
    record_checkin(other, channel="field", temperature="36.5", now=NOW - timedelta(hours=1))
    SampleDue.objects.create(
        period=a, schedule_day=2, due_on=DAY2, state="done", result="negative", done_at=due_moment(DAY2)
    )
    SampleDue.objects.create(period=b, schedule_day=2, due_on=DAY2)  # overdue
    SampleDue.objects.create(period=b, schedule_day=3, due_on=DAY3)  # due today
    MonitoringAlert.objects.create(period=b, kind="positive", day=DAY3, created_at=NOW)
    person = b.person
    person.case_status = "confirmed"
    person.save(update_fields=["case_status"])
    return {"a": a, "b": b, "c": c, "other": other}


def query(user, **params):
    return stats.parse_query(user, params, now=NOW)


def test_todays_figures_and_case_status_of_the_village(monitored, field_staff, team_leader):
    data = stats.compute(query(team_leader, division=HOME_VILLAGE), now=NOW)
    assert {key: data[key] for key in stats.TODAY_KEYS} == {
        "monitored_now": 2,
        "due_today": 3,
        "checked_in_today": 1,
        "missed": 2,
        "lost_contact": 1,
        "abnormal_today": 1,
        # b's sample of the day, and the test a's abnormal check-in asked for
        "samples_due": 2,
        "samples_overdue": 1,
        "positives_today": 1,
    }
    assert data["case_status"]["confirmed"] == 1 and data["case_status"]["none"] == 2


def test_the_execution_rate_by_division_and_day(monitored, team_leader):
    data = stats.compute(query(team_leader, date_from=str(FIRST_DAY), date_to=str(DAY3)), now=NOW)
    rows = {(row["division"], row["day"]): row for row in data["execution"]["rows"]}
    home = rows[(HOME_VILLAGE, DAY2.isoformat())]
    # Day 2: three check-ins due, two done; two samples due, one on time.
    assert (home["checkins_due"], home["checkins_done"], home["samples_due"], home["samples_on_time"]) == (
        3,
        2,
        2,
        1,
    )
    assert home["execution_rate"] == round(3 / 5, 4)
    day3 = rows[(HOME_VILLAGE, DAY3.isoformat())]
    # Day 3: b's scheduled sample and the test a's abnormal check-in asked for.
    assert (day3["checkins_due"], day3["checkins_done"], day3["samples_due"]) == (3, 1, 2)
    assert rows[(OTHER_VILLAGE_SAME_TOWNSHIP, DAY3.isoformat())]["checkins_done"] == 1
    # No check-in was due on day 1: the periods were made at its due hour.
    assert (HOME_VILLAGE, FIRST_DAY.isoformat()) not in rows
    assert home["division_name"]


def test_the_territory_bounds_every_figure(monitored, field_staff):
    data = stats.compute(query(field_staff), now=NOW)
    assert data["monitored_now"] == 2  # the other village's period is not counted
    with pytest.raises(stats.OutsideTerritory):
        query(field_staff, division=OTHER_VILLAGE_SAME_TOWNSHIP)
    with pytest.raises(stats.OutsideTerritory):
        query(field_staff, division=HOME_TOWNSHIP)


def test_bad_parameters_are_named(team_leader, hainan):
    for params, field in (
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2024-13-01"}, "date_to"),
        ({"date_from": "2024-05-10", "date_to": "2024-05-01"}, "date_from"),
        ({"date_from": "2024-01-01", "date_to": "2024-12-31"}, "date_from"),
    ):
        with pytest.raises(stats.BadParameter) as error:
            query(team_leader, **params)
        assert error.value.field == field


def test_the_api_answers_the_figures_and_404_outside(api_client, monitored, team_leader, field_staff):
    api_client.force_authenticate(team_leader)
    answer = api_client.get("/api/v1/monitoring/stats/", {"division": HOME_VILLAGE})
    assert answer.status_code == 200
    body = answer.json()
    assert set(stats.TODAY_KEYS) <= set(body) and "case_status" in body and "execution" in body
    assert api_client.get("/api/v1/monitoring/stats/", {"division": "460106"}).status_code == 404
    bad = api_client.get("/api/v1/monitoring/stats/", {"date_from": "x"})
    assert bad.status_code == 400 and "date_from" in bad.json()["errors"]
    api_client.force_authenticate(field_staff)  # no statistics for the grid worker
    assert api_client.get("/api/v1/monitoring/stats/").status_code == 403


def test_the_page_and_its_csv(client, password, monitored, team_leader):
    client.login(username=team_leader.username, password=password)
    dates = {"date_from": str(FIRST_DAY), "date_to": str(DAY3)}
    page = client.get("/monitoring/stats/", dates)
    assert page.status_code == 200 and b"monitoring-execution" in page.content
    csv = client.get("/monitoring/stats/", {**dates, "export": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("division,division_name,day")
    assert HOME_VILLAGE in text
    assert client.get("/monitoring/stats/", {"division": "460106"}).status_code == 404


def test_t0_is_the_due_hour_of_day_one():
    assert timezone.localtime(T0) == due_moment(FIRST_DAY)
