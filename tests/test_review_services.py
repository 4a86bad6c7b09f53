"""Expert review services (issue 6): opening on submission, claim, assign, comment, return, approve, and
"whoever checks is responsible" (a decided review cannot change)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from reviews import services
from reviews.models import DisposalProposal, Finding, Review, ReviewComment, RiskAreaDesignation
from reviews.selectors import review_queue
from tasks.models import TaskStatus, TaskTransition, TracingTask, TrajectoryEntry
from tasks.workflow import task_change_status
from tests.review_fixtures import APPROVAL, clean_fieldwork, submit, traced_task

# Every test here uses the database (through the `hainan` fixture, which pytest-django cannot see).
pytestmark = pytest.mark.django_db


# ---- opening on submission -------------------------------------------------------------------------


def test_a_submission_opens_one_review_with_its_findings(review, field_staff):
    assert review.state == "pending" and review.round == 1 and review.expert is None
    submission = TaskTransition.objects.get(task=review.task, to_status="submitted")
    assert review.submission == submission and review.submitted_at == submission.at
    rules = set(Finding.objects.filter(review=review).values_list("rule", flat=True))
    assert {"impossible_travel", "contact_incomplete", "trajectory_overlap"} <= rules
    travel = Finding.objects.get(review=review, rule="impossible_travel")
    assert travel.target_type.model == "trajectoryentry"
    assert TrajectoryEntry.objects.get(pk=travel.target_id).place_name == "三亚火车站"


def test_a_clean_investigation_opens_a_review_without_findings(hainan, field_staff, reported_at):
    task = traced_task(reported_at=reported_at)
    clean_fieldwork(task, field_staff, reported_at)
    review = submit(task, field_staff)
    assert list(Finding.objects.filter(review=review).values_list("rule", flat=True)) == []


def test_opening_twice_for_one_submission_gives_the_same_review(review):
    again = services.review_open(submission=review.submission)
    assert again.pk == review.pk and Review.objects.filter(task=review.task).count() == 1


def test_a_cancelled_task_leaves_the_queue(review, cdc_expert):
    task_change_status(task=review.task, to_status=TaskStatus.CANCELLED, reason="duplicate person")
    review.refresh_from_db()
    assert review.state == "withdrawn"
    assert list(review_queue(cdc_expert)) == []


# ---- the queue -------------------------------------------------------------------------------------


def test_the_queue_shows_highest_priority_then_the_longest_waiting(
    hainan, field_staff, cdc_expert, reported_at
):
    now = timezone.now()
    tasks = {}
    for name, priority, minutes_ago in [
        ("p2_old", 2, 90),
        ("p1_new", 1, 5),
        ("p2_new", 2, 10),
        ("p1_old", 1, 30),
    ]:
        task = traced_task(reported_at=reported_at, priority=priority)
        tasks[name] = task
        submit(task, field_staff, now=now - timedelta(minutes=minutes_ago))
    rows = list(review_queue(cdc_expert, now=now))
    assert [row.task_id for row in rows] == [tasks[n].pk for n in ("p1_old", "p1_new", "p2_old", "p2_new")]
    assert rows[0].waiting == timedelta(minutes=30)


def test_the_queue_leaves_out_other_counties_unless_shared(review, outsider_expert):
    assert list(review_queue(outsider_expert)) == []
    assign_perm("tasks.view_tracingtask", outsider_expert, review.task)
    assert [r.pk for r in review_queue(outsider_expert)] == [review.pk]


def test_the_queue_is_empty_for_roles_that_do_not_review(review, field_staff, duty_officer):
    assert list(review_queue(field_staff)) == [] and list(review_queue(duty_officer)) == []


# ---- claim and assign ------------------------------------------------------------------------------


def test_an_expert_claims_a_review(review, cdc_expert):
    claimed = services.review_claim(review=review, actor=cdc_expert)
    assert claimed.state == "claimed" and claimed.expert == cdc_expert and claimed.claimed_at is not None
    assert services.review_claim(review=review, actor=cdc_expert).expert == cdc_expert  # again: no-op


def test_the_second_of_two_claims_loses(review, cdc_expert, other_expert):
    services.review_claim(review=review, actor=cdc_expert)
    with pytest.raises(services.ReviewConflict) as exc:
        services.review_claim(review=Review.objects.get(pk=review.pk), actor=other_expert)
    assert exc.value.code == "claimed_by_other"
    assert Review.objects.get(pk=review.pk).expert == cdc_expert


@pytest.mark.django_db(transaction=True)
def test_two_experts_claiming_at_the_same_moment_one_wins(
    hainan, field_staff, cdc_expert, other_expert, reported_at
):
    review = submit(traced_task(reported_at=reported_at), field_staff)
    barrier = threading.Barrier(2)
    outcomes = {}

    def claim(user):
        try:
            barrier.wait()
            services.review_claim(review=Review.objects.get(pk=review.pk), actor=user)
            outcomes[user.username] = "won"
        except services.ReviewConflict:
            outcomes[user.username] = "lost"
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in (cdc_expert, other_expert)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["lost", "won"]
    winner = Review.objects.get(pk=review.pk).expert.username
    assert outcomes[winner] == "won"


def test_an_expert_of_another_county_cannot_claim_unless_shared(review, outsider_expert):
    with pytest.raises(PermissionDenied):
        services.review_claim(review=review, actor=outsider_expert)
    assign_perm("tasks.view_tracingtask", outsider_expert, review.task)
    assert services.review_claim(review=review, actor=outsider_expert).expert == outsider_expert


def test_other_roles_cannot_claim(review, field_staff, duty_officer):
    for user in (field_staff, duty_officer):
        with pytest.raises(PermissionDenied):
            services.review_claim(review=review, actor=user)


def test_a_lead_expert_assigns_and_reassigns(review, lead_expert, cdc_expert, other_expert):
    services.review_assign(review=review, actor=lead_expert, expert=cdc_expert)
    review.refresh_from_db()
    assert (review.state, review.expert, review.assigned_by) == ("claimed", cdc_expert, lead_expert)
    services.review_assign(review=review, actor=lead_expert, expert=other_expert)
    assert Review.objects.get(pk=review.pk).expert == other_expert


def test_only_a_lead_expert_assigns(review, cdc_expert, other_expert):
    with pytest.raises(PermissionDenied):
        services.review_assign(review=review, actor=cdc_expert, expert=other_expert)


def test_a_review_goes_only_to_an_expert_who_sees_the_task(review, lead_expert, outsider_expert, field_staff):
    with pytest.raises(ValidationError):
        services.review_assign(review=review, actor=lead_expert, expert=outsider_expert)
    with pytest.raises(ValidationError):
        services.review_assign(review=review, actor=lead_expert, expert=field_staff)
    assign_perm("tasks.view_tracingtask", outsider_expert, review.task)
    assert (
        services.review_assign(review=review, actor=lead_expert, expert=outsider_expert).expert
        == outsider_expert
    )


# ---- comments --------------------------------------------------------------------------------------


def test_an_expert_comments_on_the_task_and_on_an_entry(review, cdc_expert):
    entry = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "三亚火车站")
    services.review_claim(review=review, actor=cdc_expert)
    general = services.review_comment(review=review, actor=cdc_expert, body="请补充 5 月 3 日下午的行程")
    on_entry = services.review_comment(
        review=review, actor=cdc_expert, body="时间不对", target_kind="trajectory", target_id=entry.pk
    )
    assert general.target_type is None and on_entry.target_id == entry.pk and on_entry.task == review.task


def test_a_comment_must_point_at_an_entry_of_the_task(review, cdc_expert, hainan, field_staff, reported_at):
    other = traced_task(reported_at=reported_at)
    foreign = clean_fieldwork(other, field_staff, reported_at)[0]
    with pytest.raises(ValidationError):
        services.review_comment(
            review=review, actor=cdc_expert, body="x", target_kind="trajectory", target_id=foreign.pk
        )
    with pytest.raises(ValidationError):
        services.review_comment(review=review, actor=cdc_expert, body="   ")


def test_only_the_holder_comments_on_a_claimed_review(review, cdc_expert, other_expert):
    services.review_claim(review=review, actor=cdc_expert)
    with pytest.raises(services.ReviewConflict):
        services.review_comment(review=review, actor=other_expert, body="我也看看")


# ---- return ----------------------------------------------------------------------------------------


def test_a_return_sends_the_task_back_with_reasons_and_a_new_deadline(review, cdc_expert, settings):
    settings.REVIEW_RETURN_WINDOW_MINUTES = 120
    now = timezone.now()
    services.review_claim(review=review, actor=cdc_expert, now=now)
    decided = services.review_return(review=review, actor=cdc_expert, reasons="轨迹时间矛盾，请核实", now=now)
    assert (decided.state, decided.decision, decided.expert, decided.decided_at) == (
        "decided",
        "return",
        cdc_expert,
        now,
    )
    assert decided.rework_due == now + timedelta(minutes=120)
    task = TracingTask.objects.get(pk=review.task_id)
    assert task.status == "returned"
    last = TaskTransition.objects.filter(task=task).last()
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "submitted",
        "returned",
        cdc_expert,
        "轨迹时间矛盾，请核实",
    )


def test_a_return_needs_reasons(review, cdc_expert):
    with pytest.raises(ValidationError):
        services.review_return(review=review, actor=cdc_expert, reasons="  ")
    assert TracingTask.objects.get(pk=review.task_id).status == "submitted"


def test_deciding_an_unclaimed_review_claims_it(review, cdc_expert):
    decided = services.review_return(review=review, actor=cdc_expert, reasons="补充密接")
    assert decided.expert == cdc_expert and decided.claimed_at == decided.decided_at


def test_a_resubmission_opens_a_new_round(review, cdc_expert, field_staff):
    services.review_return(review=review, actor=cdc_expert, reasons="补充密接")
    second = submit(TracingTask.objects.get(pk=review.task_id), field_staff)
    assert second.pk != review.pk and second.round == 2 and second.state == "pending"
    assert Finding.objects.filter(review=second).exists()


# ---- approve ---------------------------------------------------------------------------------------


def test_an_approval_records_the_disposal_for_the_notices(review, cdc_expert):
    place = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "海口火车站")
    now = timezone.now()
    services.review_claim(review=review, actor=cdc_expert)
    disposal = {**APPROVAL, "risk_areas": [{"entry_id": place.pk, "level": "medium"}]}
    decided = services.review_approve(review=review, actor=cdc_expert, disposal=disposal, now=now)
    assert (decided.state, decided.decision, decided.decided_at) == ("decided", "approve", now)
    task = TracingTask.objects.get(pk=review.task_id)
    assert task.status == "approved" and task.approved_at == now
    proposal = DisposalProposal.objects.get(review=review)
    assert (proposal.measure, proposal.measure_days, proposal.test_schedule_days, proposal.notify_person) == (
        "home_quarantine",
        14,
        [1, 4, 7],
        True,
    )
    assert (proposal.person_id, proposal.task_id, proposal.proposed_by, proposal.approved_at) == (
        task.person_id,
        task.pk,
        cdc_expert,
        now,
    )
    area = proposal.risk_areas.get()
    assert (area.entry_id, area.level, area.place, area.latitude) == (
        place.pk,
        "medium",
        "海口火车站",
        place.latitude,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"measure": "rest"}, "measure"),
        ({"measure_days": 0}, "measure_days"),
        ({"measure_days": 90}, "measure_days"),
        ({"measure": "none", "measure_days": 3}, "measure_days"),
        ({"test_schedule_days": [0, 4]}, "test_schedule_days"),
        ({"risk_areas": [{"entry_id": 999999999, "level": "high"}]}, "risk_areas"),
    ],
)
def test_a_bad_disposal_is_refused_and_nothing_changes(review, cdc_expert, change, field):
    with pytest.raises(ValidationError) as exc:
        services.review_approve(review=review, actor=cdc_expert, disposal={**APPROVAL, **change})
    assert field in exc.value.message_dict
    assert TracingTask.objects.get(pk=review.task_id).status == "submitted"
    assert not DisposalProposal.objects.exists()


def test_no_measure_takes_no_days(review, cdc_expert):
    services.review_approve(
        review=review, actor=cdc_expert, disposal={**APPROVAL, "measure": "none", "measure_days": 0}
    )
    assert DisposalProposal.objects.get().measure_days == 0


# ---- whoever checks is responsible -----------------------------------------------------------------


def test_a_decided_review_cannot_be_decided_again(review, cdc_expert):
    services.review_return(review=review, actor=cdc_expert, reasons="补充")
    with pytest.raises(services.ReviewConflict) as exc:
        services.review_approve(review=review, actor=cdc_expert, disposal=APPROVAL)
    assert exc.value.code == "decided"
    with pytest.raises(services.ReviewConflict):
        services.review_comment(review=review, actor=cdc_expert, body="改一下")
    with pytest.raises(services.ReviewConflict):
        services.review_claim(review=review, actor=cdc_expert)


def test_the_database_refuses_to_change_a_decided_review(review, cdc_expert, other_expert):
    services.review_return(review=review, actor=cdc_expert, reasons="补充")
    for change in ({"expert": other_expert}, {"decided_at": timezone.now()}, {"reasons": "别的理由"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Review.objects.filter(pk=review.pk).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).delete()
    assert Review.objects.get(pk=review.pk).reasons == "补充"


def test_the_database_refuses_to_change_an_approved_disposal(review, cdc_expert):
    place = next(e for e in TrajectoryEntry.objects.filter(task=review.task) if e.place_name == "海口火车站")
    services.review_approve(
        review=review,
        actor=cdc_expert,
        disposal={**APPROVAL, "risk_areas": [{"entry_id": place.pk, "level": "high"}]},
    )
    proposal = DisposalProposal.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        DisposalProposal.objects.filter(pk=proposal.pk).update(measure_days=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskAreaDesignation.objects.filter(proposal=proposal).update(level="low")
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskAreaDesignation.objects.create(proposal=proposal, level="low", place="新加的地点")
    assert DisposalProposal.objects.get().measure_days == 14


def test_a_retention_purge_may_delete_a_decided_review(review, cdc_expert):
    services.review_return(review=review, actor=cdc_expert, reasons="补充")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL reviews.allow_purge = 'on'")
        Finding.objects.filter(review=review).delete()
        Review.objects.filter(pk=review.pk).delete()
    assert not Review.objects.filter(pk=review.pk).exists()


def test_the_decision_is_in_the_change_history(review, cdc_expert):
    from auditlog.models import LogEntry

    services.review_return(review=review, actor=cdc_expert, reasons="补充")
    entries = LogEntry.objects.get_for_object(Review.objects.get(pk=review.pk))
    assert any("decision" in (entry.changes_dict or {}) for entry in entries)
    assert ReviewComment.objects.count() == 0
