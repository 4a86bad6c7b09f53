"""Release: at or after the last day, every sample negative, no open abnormality; the task closes with
the outcome "released"; the apps built on monitoring hear of it; the release notice PDF."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from monitoring import hooks
from monitoring.clock import due_moment
from monitoring.models import SampleDue
from monitoring.services.release import ReleaseRefused, release_period
from tasks.models import TaskTransition
from tests.conftest import OTHER_VILLAGE_SAME_TOWNSHIP
from tests.monitoring_fixtures import FIRST_DAY, make_period
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The reasons are compared in English (the msgids)."""
    from django.utils import translation

    with translation.override("en"):
        yield


LAST_DAY = FIRST_DAY + timedelta(days=13)
AFTER = due_moment(LAST_DAY) + timedelta(hours=2)


def refusal(period, by, now) -> list[str]:
    with pytest.raises(ReleaseRefused) as error:
        release_period(period, by=by, now=now)
    return error.value.reasons


def test_not_before_the_last_day(period, crew):
    (reason,) = refusal(period, crew["bob"], due_moment(LAST_DAY - timedelta(days=1)))
    assert LAST_DAY.isoformat() in reason


def test_every_sample_done_and_negative_and_no_open_abnormality(period, crew):
    SampleDue.objects.create(period=period, schedule_day=1, due_on=FIRST_DAY)
    SampleDue.objects.create(
        period=period, schedule_day=4, due_on=FIRST_DAY + timedelta(days=3), state="done", result="positive"
    )
    period.abnormal_open = True
    period.save(update_fields=["abnormal_open"])
    reasons = refusal(period, crew["bob"], AFTER)
    assert len(reasons) == 3
    assert "day 1" in reasons[0] and "4 (positive)" in reasons[1] and "abnormal" in reasons[2]


def test_a_person_lost_contact_is_not_released(period, crew):
    period.state = "lost_contact"
    period.save(update_fields=["state"])
    assert "lost contact" in refusal(period, crew["bob"], AFTER)[0]


def test_only_the_field_roles_of_the_territory_release(period, crew, commander, duty_officer, hainan):
    from tests.factories import UserFactory

    for actor in (commander, duty_officer):
        with pytest.raises(PermissionDenied):
            release_period(period, by=actor, now=AFTER)
    stranger = UserFactory(role="field_staff", division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    with pytest.raises(PermissionDenied):
        release_period(period, by=stranger, now=AFTER)


@pytest.mark.parametrize("status", ["approved", "reported"])
def test_a_release_closes_the_task_as_released_and_tells_the_hooks(crew, status, monkeypatch):
    heard: list[dict] = []
    monkeypatch.setattr(hooks, "_released", {"test": lambda **kw: heard.append(kw)})
    period = make_period(make_task(status=status))
    SampleDue.objects.create(period=period, schedule_day=1, due_on=FIRST_DAY, state="done", result="negative")
    released = release_period(period, by=crew["bob"], now=AFTER, note="期满", notify_person=False)
    assert (released.state, released.released_at, released.released_by) == ("released", AFTER, crew["bob"])
    assert released.next_due_at is None and released.due_day is None
    task = period.task
    task.refresh_from_db()
    assert (task.status, task.outcome, task.closed_at) == ("closed", "released", AFTER)
    move = TaskTransition.objects.filter(task=task, to_status="closed").get()
    assert move.from_status == status and move.actor == crew["bob"]
    assert heard == [{"period_ids": [period.pk], "now": AFTER, "notify_person": False}]
    assert refusal(period, crew["bob"], AFTER) == ["The person was already released."]


def test_a_task_that_already_ended_stays_as_it_is(crew):
    period = make_period(make_task(status="closed", outcome="no_risk"))
    release_period(period, by=crew["sue"], now=AFTER)
    period.task.refresh_from_db()
    assert period.task.outcome == "no_risk"


def test_the_release_notice_pdf_is_watermarked_and_scoped(client, crew, password, commander):
    period = make_period()
    release_period(period, by=crew["bob"], now=AFTER)
    url = f"/monitoring/{period.pk}/release.pdf"
    client.login(username=crew["bob"].username, password=password)
    answer = client.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    client.logout()
    from tests.factories import UserFactory

    stranger = UserFactory(role="field_staff", division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    client.login(username=stranger.username, password=password)
    assert client.get(url).status_code == 404


def test_a_period_not_released_has_no_release_notice(client, crew, password):
    period = make_period()
    client.login(username=crew["bob"].username, password=password)
    assert client.get(f"/monitoring/{period.pk}/release.pdf").status_code == 404


def test_the_release_notice_text_names_the_person_masked_for_the_commander(crew, commander):
    from monitoring.release_notice import notice_context

    period = make_period()
    period.person.name = "欧阳锋华"
    period.person.save()
    release_period(period, by=crew["bob"], now=AFTER)
    assert notice_context(crew["bob"], period, now=AFTER)["person_name"] == "欧阳锋华"
    assert notice_context(commander, period, now=AFTER)["person_name"] == "欧***"
    assert notice_context(commander, period, now=AFTER)["last_day"] == date(2024, 5, 14)


def test_the_sub_unit_releases_from_the_period_page_and_prints_the_notice(client, crew):
    """On the page: the reasons it cannot be done yet, then the button once they are gone."""
    from monitoring.models import MonitoringPeriod

    period = make_period(starts_on=date(2024, 4, 1), days=14)
    client.force_login(crew["bob"])
    MonitoringPeriod.objects.filter(pk=period.pk).update(abnormal_open=True)
    page = client.get(f"/monitoring/{period.pk}/")
    assert page.context["may_release"] and page.context["release_blockers"]
    refused = client.post(f"/monitoring/{period.pk}/release/", follow=True)
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    period.refresh_from_db()
    assert period.state == "running"

    MonitoringPeriod.objects.filter(pk=period.pk).update(abnormal_open=False)
    page = client.get(f"/monitoring/{period.pk}/")
    assert page.context["release_blockers"] == []
    done = client.post(f"/monitoring/{period.pk}/release/", {"note": "期满解除"}, follow=True)
    period.refresh_from_db()
    assert period.state == "released" and period.released_by == crew["bob"]
    assert f"/monitoring/{period.pk}/release.pdf" in done.content.decode()
