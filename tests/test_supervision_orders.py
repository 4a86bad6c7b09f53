"""Supervision orders (督办): the API contract, who may do what, the state machine, the territory, the
deadline sweep with a controlled clock (once, also with two sweeps at once) and the notifications."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from duty.models import SupervisionOrder, SupervisionOrderEvent
from duty.services.orders import NOTIFICATION_KIND, sweep_orders
from tasks.models import Notification, NotificationDelivery, UnitMembership
from tests.factories import TracingTaskFactory, UserFactory
from tests.order_fixtures import O0, home_team, make_order

pytestmark = pytest.mark.django_db

URL = "/api/v1/supervision-orders/"


def _post(api_client, user, path, data=None):
    api_client.force_login(user)
    return api_client.post(path, data or {}, format="json")


def _issue(api_client, commander, **data):
    payload = {
        "title": "核查长流镇红码人员",
        "text": "今日18点前回复",
        "deadline": "2030-01-01T18:00:00+08:00",
        "priority": "urgent",
        "owner_unit": home_team().pk,
    }
    payload.update(data)
    return _post(api_client, commander, URL, payload)


# ---- the contract -------------------------------------------------------------------------------------


def test_a_commander_issues_an_order_and_the_owner_unit_leader_is_notified(api_client, commander, led_team):
    led_team.leader.email = "tina@example.org"
    led_team.leader.save()
    task = TracingTaskFactory(division_id="460105001001")
    response = _issue(api_client, commander, tasks=[f"T{task.pk}"], divisions=["460105001"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "issued" and body["priority"] == "urgent"
    assert body["tasks"] == [task.pk] and body["divisions"] == ["460105001"]
    assert body["owner_unit"]["id"] == led_team.pk and body["owner_division"] == "460105001"
    assert [e["kind"] for e in body["events"]] == ["issued"]
    note = Notification.objects.get(kind=NOTIFICATION_KIND)
    assert note.recipient == led_team.leader and note.data["event"] == "issued"
    assert NotificationDelivery.objects.filter(notification=note, channel="email").count() == 1
    from tasks.notify import render

    subject, body_text = render(note)
    assert "核查长流镇红码人员" in subject and f"D{body['id']}" in subject


def test_the_whole_thread_issue_acknowledge_reply_complete_accept(api_client, commander, led_team):
    order_id = _issue(api_client, commander).json()["id"]
    leader = led_team.leader
    base = f"{URL}{order_id}/"
    assert _post(api_client, leader, base + "acknowledge/").json()["state"] == "acknowledged"
    reply = _post(api_client, leader, base + "reply/", {"text": "已落实3人"})
    assert reply.status_code == 200 and reply.json()["state"] == "in_progress"
    done = _post(api_client, leader, base + "complete/", {"text": "全部核查完毕"})
    assert done.json()["state"] == "completed" and done.json()["completed_at"]
    # The issuer is told it is completed.
    assert Notification.objects.filter(recipient=commander, data__event="completed").count() == 1
    api_client.force_login(commander)
    assert api_client.get(base).json()["actions"] == ["accept", "send_back"]
    accepted = _post(api_client, commander, base + "accept/")
    assert accepted.json()["state"] == "accepted"
    kinds = [e["kind"] for e in accepted.json()["events"]]
    assert kinds == ["issued", "acknowledged", "reply", "completed", "accepted"]


def test_send_back_returns_the_order_with_the_reason(api_client, commander, led_team):
    order_id = _issue(api_client, commander).json()["id"]
    leader, base = led_team.leader, f"{URL}{order_id}/"
    _post(api_client, leader, base + "acknowledge/")
    _post(api_client, leader, base + "complete/")
    missing = _post(api_client, commander, base + "send-back/", {})
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    back = _post(api_client, commander, base + "send-back/", {"reason": "缺少核查结果"})
    assert back.status_code == 200
    # No reply yet: back to acknowledged; the reason is in the thread; the owner is told.
    assert back.json()["state"] == "acknowledged" and back.json()["completed_at"] is None
    assert back.json()["events"][-1]["text"] == "缺少核查结果"
    assert Notification.objects.filter(recipient=leader, data__event="sent_back").exists()
    _post(api_client, leader, base + "reply/", {"text": "补充结果"})
    _post(api_client, leader, base + "complete/")
    assert (
        _post(api_client, commander, base + "send-back/", {"reason": "再核"}).json()["state"] == "in_progress"
    )


def test_the_list_per_role(api_client, commander, duty_officer, led_team):
    by_commander = make_order(issuer=commander)
    by_officer = make_order(issuer=duty_officer, owner_user=led_team.leader)
    api_client.force_login(commander)
    ids = lambda r: {row["id"] for row in r.json()["results"]}  # noqa: E731
    assert ids(api_client.get(URL)) == {by_commander.pk, by_officer.pk}  # a commander: all of the territory
    assert ids(api_client.get(URL + "?scope=issued")) == {by_commander.pk}
    api_client.force_login(led_team.leader)
    assert ids(api_client.get(URL)) == {by_commander.pk, by_officer.pk}  # assigned: the unit's and own
    bad = api_client.get(URL + "?scope=all&state=nope")
    assert bad.status_code == 400 and {"scope", "state"} <= bad.json()["errors"].keys()
    api_client.force_login(duty_officer)
    assert ids(api_client.get(URL + "?scope=issued&state=open")) == {by_officer.pk}


# ---- input and permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": ""}, "title"),
        ({"deadline": "2020-01-01T00:00:00+08:00"}, "deadline"),
        ({"deadline": "tomorrow"}, "deadline"),
        ({"priority": "asap"}, "priority"),
        ({"owner_unit": None}, "owner_unit"),
        ({"owner_user": 1}, "owner_user"),  # both given
        ({"tasks": ["X1"]}, "tasks"),
        ({"tasks": ["T999999999"]}, "tasks"),
        ({"divisions": ["460106"]}, "divisions"),  # outside the issuer's (4601) territory? 460106 is inside
    ],
)
def test_bad_input_names_the_field(api_client, commander, led_team, data, field):
    if field == "divisions":
        data = {"divisions": ["4602"]}  # 三亚: outside 海口
    response = _issue(api_client, commander, **data)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()


def test_only_commanders_and_duty_officers_issue(api_client, team_leader, field_staff, cdc_expert, led_team):
    for user in (team_leader, field_staff, cdc_expert):
        assert _issue(api_client, user).status_code == 403


def test_an_owner_unit_outside_the_issuers_territory_is_refused(api_client, duty_officer):
    from tasks.models import Unit

    other = Unit.objects.get(kind="team", division_id="460106001")
    response = _issue(api_client, duty_officer, owner_unit=other.pk)
    assert response.status_code == 400 and "owner_unit" in response.json()["errors"]


def test_who_may_act_on_an_order(api_client, commander, duty_officer, led_team, field_staff):
    order = make_order(issuer=commander)
    base = f"{URL}{order.pk}/"
    # A duty officer of the county sees it (the owner is in the county) but owns nothing and did not issue it.
    assert _post(api_client, duty_officer, base + "acknowledge/").status_code == 403
    # A member of the owner unit may answer.
    UnitMembership.objects.create(
        unit=led_team, user=UserFactory(role="team_leader", division_id="460105001")
    )
    member = UnitMembership.objects.filter(unit=led_team).last().user
    assert _post(api_client, member, base + "acknowledge/").status_code == 200
    _post(api_client, member, base + "complete/")
    # The owner does not accept its own work; a duty officer of another desk does not either.
    assert _post(api_client, member, base + "accept/").status_code == 403
    assert _post(api_client, duty_officer, base + "accept/").status_code == 403
    # A duty officer of the issuing desk may.
    city_officer = UserFactory(role="duty_officer", division_id="4601")
    assert _post(api_client, city_officer, base + "accept/").status_code == 200


def test_an_owner_person_answers_in_person(api_client, duty_officer, field_staff):
    order = make_order(issuer=duty_officer, owner_user=field_staff)
    assert order.owner_division_id == field_staff.division_id
    response = _post(api_client, field_staff, f"{URL}{order.pk}/reply/", {"text": "已联系"})
    assert response.status_code == 200 and response.json()["state"] == "in_progress"
    assert Notification.objects.filter(recipient=field_staff, data__event="issued").count() == 1


# ---- the state machine --------------------------------------------------------------------------------


def test_moves_the_state_does_not_allow_answer_409_with_the_state(api_client, commander, led_team):
    order = make_order(issuer=commander)
    leader, base = led_team.leader, f"{URL}{order.pk}/"
    early = _post(api_client, leader, base + "complete/")
    assert early.status_code == 409 and early.json()["state"] == "issued"
    assert "Acknowledge" in early.json()["detail"] or "签收" in early.json()["detail"]
    assert _post(api_client, commander, base + "accept/").status_code == 409
    assert _post(api_client, commander, base + "send-back/", {"reason": "x"}).status_code == 409
    _post(api_client, leader, base + "acknowledge/")
    again = _post(api_client, leader, base + "acknowledge/")
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    _post(api_client, leader, base + "complete/")
    assert _post(api_client, leader, base + "reply/", {"text": "补充"}).status_code == 409
    _post(api_client, commander, base + "accept/")
    assert _post(api_client, commander, base + "accept/").status_code == 409
    empty = _post(api_client, leader, base + "reply/", {"text": "  "})
    assert empty.status_code in (400, 409)


def test_reply_needs_text(api_client, commander, led_team):
    order = make_order(issuer=commander)
    response = _post(api_client, led_team.leader, f"{URL}{order.pk}/reply/", {"text": ""})
    assert response.status_code == 400 and "text" in response.json()["errors"]


# ---- territory ----------------------------------------------------------------------------------------


def test_outside_the_issuers_and_the_owners_territory_the_order_does_not_exist(
    api_client, client, commander, led_team, outsider, field_staff
):
    order = make_order(issuer=commander)
    for user in (outsider, field_staff):  # another county; a village under the owner township
        api_client.force_login(user)
        assert api_client.get(f"{URL}{order.pk}/").status_code == 404
        assert order.pk not in {r["id"] for r in api_client.get(URL + "?scope=assigned").json()["results"]}
        assert _post(api_client, user, f"{URL}{order.pk}/acknowledge/").status_code == 404
        client.force_login(user)
        assert (
            client.get(reverse("supervision_order_detail", kwargs={"order_id": order.pk})).status_code == 404
        )


# ---- the deadline sweep -------------------------------------------------------------------------------


def test_an_overdue_order_escalates_exactly_once_with_a_controlled_clock(commander, led_team):
    order = make_order(issuer=commander, now=O0, deadline=O0 + timedelta(hours=4))
    assert order.next_alert_at == O0 + timedelta(hours=3)
    call_command("sweep_deadlines", now=(O0 + timedelta(hours=2)).isoformat(), stdout=_Null())
    assert not order.events.filter(kind__in=["warning", "overdue"]).exists()
    for _ in range(2):
        call_command("sweep_deadlines", now=(O0 + timedelta(hours=3, minutes=1)).isoformat(), stdout=_Null())
    assert list(order.events.filter(kind="warning").values_list("kind", flat=True)) == ["warning"]
    for _ in range(2):
        call_command("sweep_deadlines", now=(O0 + timedelta(hours=4, minutes=1)).isoformat(), stdout=_Null())
    assert order.events.filter(kind="overdue").count() == 1
    order.refresh_from_db()
    assert order.next_alert_at is None and order.overdue_at == O0 + timedelta(hours=4, minutes=1)
    overdue = Notification.objects.filter(kind=NOTIFICATION_KIND, data__event="overdue")
    # The owner unit's leader and the issuer, once each.
    assert sorted(overdue.values_list("recipient_id", flat=True)) == sorted(
        [led_team.leader_id, commander.pk]
    )
    assert overdue.first().data["level"] == "breach"


def test_the_beat_job_escalates_at_the_deadline_not_a_second_before(commander, led_team):
    """The every-minute beat job reads the real clock: moved with time_machine, one second before the
    deadline and at it, then again a minute later (nothing more)."""
    import time_machine

    from tasks.jobs_workflow import sweep_deadlines

    deadline = O0 + timedelta(hours=4)
    order = make_order(issuer=commander, now=O0, deadline=deadline)
    with time_machine.travel(deadline - timedelta(hours=1, seconds=1), tick=False):
        assert sweep_deadlines()["supervision_orders"]["escalations"] == 0
    with time_machine.travel(deadline - timedelta(hours=1), tick=False):
        assert sweep_deadlines()["supervision_orders"]["escalations"] == 1
    with time_machine.travel(deadline - timedelta(seconds=1), tick=False):
        assert sweep_deadlines()["supervision_orders"]["escalations"] == 0
    for moment in (deadline, deadline, deadline + timedelta(minutes=1)):
        with time_machine.travel(moment, tick=False):
            sweep_deadlines()
    assert list(order.events.exclude(kind="issued").values_list("kind", flat=True).order_by("pk")) == [
        "warning",
        "overdue",
    ]
    order.refresh_from_db()
    assert order.overdue_at == deadline and order.next_alert_at is None


def test_a_completed_order_does_not_escalate_and_a_late_one_counts_as_overdue(commander, led_team):
    from duty.services.orders import acknowledge_order, complete_order, stats_by_owner

    on_time = make_order(issuer=commander, now=O0, deadline=O0 + timedelta(hours=4))
    late = make_order(issuer=commander, now=O0, deadline=O0 + timedelta(hours=1))
    for order, at in ((on_time, O0 + timedelta(hours=1)), (late, O0 + timedelta(hours=2))):
        acknowledge_order(order=order, actor=led_team.leader, now=at)
        complete_order(order=order, actor=led_team.leader, now=at)
    assert sweep_orders(now=O0 + timedelta(days=1))["escalations"] == 0
    [row] = stats_by_owner(SupervisionOrder.objects.all(), now=O0 + timedelta(days=1))
    assert (row.total, row.on_time, row.overdue, row.open) == (2, 1, 1, 0)
    assert row.name == led_team.name


def test_an_order_found_past_its_deadline_is_escalated_as_overdue_only(commander, led_team):
    order = make_order(issuer=commander, now=O0, deadline=O0 + timedelta(hours=4))
    result = sweep_orders(now=O0 + timedelta(hours=5))
    assert result["escalations"] == 1
    assert list(order.events.exclude(kind="issued").values_list("kind", flat=True)) == ["overdue"]


class _Null:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass


def _run_concurrently(functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def worker(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@pytest.mark.parametrize("limit", [3, 1000])
def test_two_sweeps_at_once_escalate_each_order_once(transactional_db, hainan, commander, team_leader, limit):
    team = home_team()
    team.leader = team_leader
    team.save(update_fields=["leader"])
    orders = [make_order(issuer=commander, now=O0, deadline=O0 + timedelta(hours=2)) for _ in range(20)]
    moment = O0 + timedelta(hours=3)
    _run_concurrently(
        [lambda: sweep_orders(now=moment, limit=limit), lambda: sweep_orders(now=moment, limit=limit)]
    )
    assert SupervisionOrderEvent.objects.filter(kind="overdue").count() == 20
    assert SupervisionOrderEvent.objects.filter(kind="warning").count() == 0
    overdue = Notification.objects.filter(kind=NOTIFICATION_KIND, data__event="overdue")
    assert overdue.count() == 40  # the leader and the issuer of each
    assert overdue.values("data__order", "recipient").distinct().count() == 40
    assert (
        SupervisionOrder.objects.filter(pk__in=[o.pk for o in orders], next_alert_at__isnull=True).count()
        == 20
    )
    assert sweep_orders(now=moment)["escalations"] == 0


# ---- pages --------------------------------------------------------------------------------------------


def test_the_pages_issue_answer_and_accept(client, commander, led_team):
    from django.utils import timezone

    task = TracingTaskFactory(division_id="460105001001")
    client.force_login(commander)
    form = client.get(reverse("supervision_order_new"))
    assert form.status_code == 200 and led_team.name in form.content.decode()
    deadline = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(
        reverse("supervision_order_new"), {"title": "", "deadline": deadline, "owner_kind": "unit"}
    )
    assert (
        bad.status_code == 400 and "title" in bad.context["errors"] and "owner_unit" in bad.context["errors"]
    )
    response = client.post(
        reverse("supervision_order_new"),
        {
            "title": "督办核查",
            "text": "请回复",
            "deadline": deadline,
            "priority": "important",
            "owner_kind": "unit",
            "owner_unit": led_team.pk,
            "tasks": f"T{task.pk}",
            "division_code": "460105001",
        },
    )
    order = SupervisionOrder.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/supervision/{order.pk}/")
    assert list(order.tasks.all()) == [task] and list(order.divisions.values_list("code", flat=True)) == [
        "460105001"
    ]
    page = client.get(response["Location"]).content.decode()
    assert f'href="/tasks/{task.pk}/"' in page and "督办核查" in page

    client.force_login(led_team.leader)
    listing = client.get(reverse("supervision_order_list"))
    assert listing.context["scope"] == "assigned" and listing.context["orders"] == [order]
    action = lambda name, **data: client.post(  # noqa: E731
        reverse("supervision_order_action", kwargs={"order_id": order.pk, "action": name}), data
    )
    assert action("acknowledge").status_code == 302
    action("reply", text="已核查2人")
    action("complete", text="完成")
    action("accept")  # not the issuer: refused with a message, nothing changes
    order.refresh_from_db()
    assert order.state == "completed"
    client.force_login(commander)
    action("accept")
    order.refresh_from_db()
    assert order.state == "accepted"


def test_the_list_filters_stay_in_the_url(client, commander, led_team):
    make_order(issuer=commander, priority="urgent")
    normal = make_order(issuer=commander)
    client.force_login(commander)
    response = client.get(reverse("supervision_order_list"), {"scope": "all", "priority": "normal"})
    assert response.context["orders"] == [normal]
    assert 'value="normal" selected' in response.content.decode()
    assert client.get(reverse("supervision_order_list"), {"state": "bogus"}).status_code == 302


def test_statistics_by_owner_unit_and_csv(client, commander, outsider, led_team):
    from tasks.models import Unit

    make_order(issuer=commander)
    other_team = Unit.objects.get(kind="team", division_id="460106001")
    make_order(issuer=outsider, owner_unit=other_team)
    client.force_login(commander)
    rows = client.get(reverse("supervision_order_stats")).context["rows"]
    assert {r.division_code for r in rows} == {"460105001", "460106001"}  # a city commander sees both
    client.force_login(outsider)
    rows = client.get(reverse("supervision_order_stats")).context["rows"]
    assert [(r.division_code, r.total, r.open) for r in rows] == [("460106001", 1, 1)]
    csv = client.get(reverse("supervision_order_stats"), {"format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert other_team.name in text and led_team.name not in text


def test_the_demo_lets_each_role_walk_its_part(hainan):
    from duty.services.orders import actions_for, orders_visible_to
    from tasks.models import User

    call_command("seed_demo", stdout=_Null())
    call_command("seed_demo", stdout=_Null())  # idempotent
    users = {
        u.username: u for u in User.objects.filter(username__in=["commander", "duty", "leader", "field"])
    }
    orders = {o.title: o for o in SupervisionOrder.objects.select_related("owner_unit")}
    assert len(orders) == 4
    assert "acknowledge" in actions_for(users["leader"], orders["秀英街道红码人员今日清零"])
    assert "reply" in actions_for(users["field"], orders["核实返乡人员居家情况"])
    assert {"accept", "send_back"} <= actions_for(users["commander"], orders["整理本周密接人员转运台账"])
    assert orders["补报昨日核酸采样统计"].events.filter(kind="overdue").count() == 1
    for user in users.values():
        assert orders_visible_to(user).exists()
