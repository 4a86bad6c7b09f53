"""Generation and two-level review of notices (issue 8): from approved disposal proposals and batch
rules, in sets; the county desk then the city desk; a rejection at each level goes back to the
submitter, who corrects and resubmits; both reviewers are recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from notices.errors import NoticeConflict
from notices.models import BoardMessage, Notice, NoticeState, NoticeTemplate
from notices.selectors import returned_to, template_for
from notices.services.generation import notices_generate_for_rule, notices_generate_from_proposals
from notices.services.review import notice_approve, notice_reject, notice_resubmit
from tasks.models import Role
from tests.factories import PersonFactory, TracingTaskFactory, UserFactory
from tests.notice_fixtures import ADDRESS, ID_NUMBER, approved_proposal, notice_in_review
from tests.workflow_fixtures import linked_lead


def test_notices_are_generated_once_from_approved_proposals_that_ask_for_one(
    cdc_expert, django_assert_max_num_queries
):
    first = approved_proposal(expert=cdc_expert, sources=("close_contact",))
    second = approved_proposal(
        expert=cdc_expert,
        sources=("yellow_code",),
        measure="health_monitoring",
        phone="13900009999",
        name="赵六",
    )
    approved_proposal(expert=cdc_expert, notify=False, phone="13900008888")
    with django_assert_max_num_queries(6):
        assert notices_generate_from_proposals() == 2
    assert notices_generate_from_proposals() == 0  # idempotent
    by_proposal = {n.proposal_id: n for n in Notice.objects.all()}
    assert by_proposal[first.pk].category == "close_contact" and by_proposal[first.pk].urgent
    assert by_proposal[second.pk].category == "yellow_code" and not by_proposal[second.pk].urgent
    for notice in by_proposal.values():
        assert notice.state == NoticeState.COUNTY_REVIEW and notice.submitted_by == cdc_expert
        assert ID_NUMBER not in notice.text and ADDRESS not in notice.text
        assert "王小明" not in notice.text
    assert "王**" in by_proposal[first.pk].text


def test_a_batch_rule_covers_every_returnee_from_the_designated_area(county_desk):
    now = timezone.now()
    persons = []
    for i in range(3):
        person = PersonFactory(id_number=ID_NUMBER)
        task = TracingTaskFactory(person=person, address=ADDRESS)
        linked_lead(
            task,
            source="returnee",
            reported_at=now - timedelta(days=1),
            priority=5,
            division_id=task.division_id,
            payload={"origin_division": "460202" if i < 2 else "460106"},
        )
        persons.append(person)
    created = notices_generate_for_rule(
        rule="returnees_from_area", area_code="4602", since=now - timedelta(days=3), actor=county_desk
    )
    assert created == 2
    assert set(Notice.objects.values_list("person_id", flat=True)) == {persons[0].pk, persons[1].pk}
    assert all(n.category == "high_risk_returnee" and "三亚市" in n.text for n in Notice.objects.all())
    assert (
        notices_generate_for_rule(
            rule="returnees_from_area", area_code="4602", since=now - timedelta(days=3), actor=county_desk
        )
        == 0
    )
    assert BoardMessage.objects.count() == 1 and "三亚市" in BoardMessage.objects.get().text


def test_county_then_city_approve_and_both_are_recorded(county_desk, city_desk):
    notice = notice_in_review()
    with pytest.raises(PermissionDenied):
        notice_approve(notice=notice, actor=city_desk)  # the city desk waits for the county
    notice_approve(notice=notice, actor=county_desk)
    notice.refresh_from_db()
    assert notice.state == NoticeState.CITY_REVIEW and notice.county_reviewer == county_desk
    with pytest.raises(PermissionDenied):
        notice_approve(notice=notice, actor=county_desk)
    notice_approve(notice=notice, actor=city_desk)
    notice.refresh_from_db()
    assert notice.state == NoticeState.APPROVED and notice.city_reviewer == city_desk
    assert notice.approved_at and notice.push_after and notice.push_due


def test_a_superuser_cannot_give_both_approvals(county_desk, hainan):
    boss = UserFactory(username="root", is_superuser=True, is_staff=True, role=Role.ADMIN, division_id="46")
    notice = notice_in_review()
    notice_approve(notice=notice, actor=boss)
    with pytest.raises(NoticeConflict):
        notice_approve(notice=notice, actor=boss)


@pytest.mark.parametrize("level", ["county", "city"])
def test_a_rejection_at_each_level_goes_back_to_the_submitter_who_corrects_and_resubmits(
    level, county_desk, city_desk, cdc_expert
):
    notice = notice_in_review(submitted_by=cdc_expert)
    if level == "city":
        notice_approve(notice=notice, actor=county_desk)
    reviewer = county_desk if level == "county" else city_desk
    with pytest.raises(ValidationError):
        notice_reject(notice=notice, actor=reviewer, reason=" ")
    notice_reject(notice=notice, actor=reviewer, reason="检测日期有误")
    notice.refresh_from_db()
    assert (
        notice.state == f"rejected_{level}"
        and notice.rejected_by == reviewer
        and notice.rejection_reason == "检测日期有误"
    )
    assert notice in returned_to(cdc_expert)
    # Correcting cannot slip the ID number in.
    with pytest.raises(ValidationError):
        notice_resubmit(notice=notice, actor=cdc_expert, title=notice.title, text=f"身份证{ID_NUMBER}")
    notice_resubmit(
        notice=notice, actor=cdc_expert, title=notice.title, text="李*您好：请于11月21日接受核酸检测。"
    )
    notice.refresh_from_db()
    assert (
        notice.state == NoticeState.COUNTY_REVIEW and notice.version == 2 and notice.county_reviewer is None
    )
    notice_approve(notice=notice, actor=county_desk)
    notice_approve(notice=notice, actor=city_desk)
    notice.refresh_from_db()
    assert notice.state == NoticeState.APPROVED and notice.rejections == 1


def test_other_roles_and_other_counties_cannot_review(field_staff, outsider, cdc_expert, client, password):
    notice = notice_in_review()
    for account in (field_staff, cdc_expert):
        with pytest.raises(PermissionDenied):
            notice_approve(notice=notice, actor=account)
    client.login(username=outsider.username, password=password)
    assert client.post(f"/notices/{notice.pk}/approve/").status_code == 404
    assert client.post(f"/api/v1/notices/{notice.pk}/approve/").status_code == 404


def test_the_api_approves_and_rejects(api_client, county_desk, city_desk, password):
    notice = notice_in_review()
    api_client.login(username=county_desk.username, password=password)
    listed = api_client.get("/api/v1/notices/", {"state": "county_review"}).json()["results"]
    assert [row["id"] for row in listed] == [notice.pk] and listed[0]["person_name"] == "李四"
    assert api_client.post(f"/api/v1/notices/{notice.pk}/approve/").json()["state"] == "city_review"
    assert api_client.post(f"/api/v1/notices/{notice.pk}/approve/").status_code == 403
    api_client.logout()
    api_client.login(username=city_desk.username, password=password)
    response = api_client.post(
        f"/api/v1/notices/{notice.pk}/reject/", {"reason": "措施与风险不相称"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "rejected_city"
    assert (
        api_client.post(f"/api/v1/notices/{notice.pk}/reject/", {"reason": "x"}, format="json").status_code
        == 409
    )


def test_the_review_pages(client, county_desk, password):
    notice = notice_in_review()
    client.login(username=county_desk.username, password=password)
    page = client.get("/notices/county/")
    assert page.status_code == 200 and f"N{notice.pk}" in page.content.decode()
    detail = client.get(f"/notices/{notice.pk}/")
    assert detail.status_code == 200 and 'data-testid="approve"' in detail.content.decode()
    response = client.post(f"/notices/{notice.pk}/reject/", {"reason": "缺少检测日期"})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.state == NoticeState.REJECTED_COUNTY


def test_templates_are_edited_by_administrators_only(client, county_desk, hainan, password):
    admin = UserFactory(username="adam", role=Role.ADMIN, division_id="46")
    client.login(username=county_desk.username, password=password)
    assert client.get("/notices/templates/").status_code == 403
    client.logout()
    client.login(username=admin.username, password=password)
    assert client.get("/notices/templates/").status_code == 200
    bad = client.post("/notices/templates/red_code/", {"title": "红码", "body": "{name} {id_number}"})
    assert bad.status_code == 200  # the form again, with the error
    assert not NoticeTemplate.objects.exists()
    good = client.post(
        "/notices/templates/red_code/",
        {"title": "红码告知", "body": "{name}您好：您的健康码为红码。咨询{hotline}。", "urgent": "on"},
    )
    assert good.status_code == 302
    assert template_for("red_code") == (
        "红码告知",
        "{name}您好：您的健康码为红码。咨询{hotline}。",
        True,
    )


def test_the_commands_run_the_same_steps(cdc_expert, county_desk, city_desk, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.NOTICE_SMS_BACKEND = "notices.sms.LocMemBackend"
    approved_proposal(expert=cdc_expert)
    out = StringIO()
    call_command("notices_generate", stdout=out)
    assert out.getvalue().strip() == "1 handled."
    notice = Notice.objects.get()
    notice_approve(notice=notice, actor=county_desk)
    notice_approve(notice=notice, actor=city_desk)
    call_command("notices_push", "--now", (timezone.now() + timedelta(hours=9)).isoformat(), stdout=out)
    call_command("notices_deliver", "--now", (timezone.now() + timedelta(hours=9)).isoformat(), stdout=out)
    call_command("notices_remind", "--now", (timezone.now() + timedelta(days=2)).isoformat(), stdout=out)
    notice.refresh_from_db()
    assert notice.state == NoticeState.PUSHED and notice.reminder_sent_at is not None


def test_the_batch_rule_page_and_the_follow_up_page(client, county_desk, field_staff, password):
    client.login(username=county_desk.username, password=password)
    assert client.get("/notices/rules/").status_code == 200
    response = client.post(
        "/notices/rules/", {"rule": "returnees_from_area", "area_code": "4602", "since": "2026-11-01"}
    )
    assert response.status_code == 302
    client.logout()
    client.login(username=field_staff.username, password=password)
    assert client.get("/notices/rules/").status_code == 403
    assert client.get("/notices/follow-ups/").status_code == 200
    assert client.get("/notices/county/").status_code == 404  # not a staff role for notices
