"""Writes of the expert review (issue 6). Keyword-only, `@transaction.atomic`, audited (django-auditlog
records every change of Review, ReviewComment, DisposalProposal and RiskAreaDesignation; the task's
own moves are TaskTransition rows written by tasks/workflow.py).

Who may do what:

* claim, comment, return, approve: a CDC expert (`roles.can(user, "review.decide")`) who sees the task
  (its territory, or the task shared with them through guardian `tasks.view_tracingtask`);
* assign: a lead expert — a CDC expert holding the global permission `reviews.assign_review` — to a
  CDC expert who sees the task;
* deciding needs the review to be claimed by the actor (an unclaimed review is claimed by the decision
  itself); a review claimed by another expert is theirs to decide.

The state of the task moves through `tasks.workflow.task_change_status` (submitted → returned /
approved), which locks the task, checks the transition table, records the TaskTransition and keeps
`next_alert_at` right.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import Notification, TaskStatus, TaskTransition, TracingTask, User
from tasks.roles import can
from tasks.selectors import tasks_visible_to

from . import hooks
from .models import (
    OPEN_STATES,
    Decision,
    DisposalProposal,
    PersonMeasure,
    Review,
    ReviewComment,
    ReviewState,
    RiskAreaDesignation,
    RiskLevel,
)


class ReviewConflict(ValidationError):
    """The review is not in a state that allows this (claimed by someone else, already decided). The
    API answers 409."""

    def __init__(self, message: str, code: str = "review_conflict"):
        super().__init__(message, code=code)


# ---- checks -----------------------------------------------------------------------------------------


def sees_task(user, task_id: int) -> bool:
    return tasks_visible_to(user).filter(pk=task_id).exists()


def _require_expert(actor: User, review: Review) -> None:
    if not can(actor, "review.decide"):
        raise PermissionDenied(_("Only a CDC expert reviews investigations."))
    if not sees_task(actor, review.task_id):
        raise PermissionDenied(_("This task is outside your territory and was not shared with you."))


def is_lead_expert(user) -> bool:
    return can(user, "review.decide") and user.has_perm("reviews.assign_review")


def _lock(review: Review) -> Review:
    return Review.objects.select_for_update(of=("self",)).select_related("task").get(pk=review.pk)


def _require_open(review: Review) -> None:
    if review.state == ReviewState.DECIDED:
        raise ReviewConflict(
            _("This review is decided: a decision cannot be changed. A later change needs a new review."),
            "decided",
        )
    if review.state != ReviewState.PENDING and review.state != ReviewState.CLAIMED:
        raise ReviewConflict(_("This review is closed."), "closed")


def _require_holder(review: Review, actor: User) -> None:
    if review.state == ReviewState.CLAIMED and review.expert_id != actor.pk:
        holder = review.expert  # a claimed review has one (constraint review_claimed_has_expert)
        raise ReviewConflict(
            _("%(expert)s is reviewing this task.") % {"expert": holder.display_name if holder else ""},
            "claimed_by_other",
        )


# ---- opening (on submission) -------------------------------------------------------------------------


@transaction.atomic
def review_open(*, submission: TaskTransition, now: datetime | None = None) -> Review:
    """Open the review of one submission (the queue entry) and compute its findings. Called when a
    submission is recorded (reviews/apps.py); running it twice for one submission returns the same
    review."""
    from .findings import compute_findings

    existing = Review.objects.filter(submission=submission).first()
    if existing is not None:
        return existing
    task = submission.task
    # A review still open from an earlier submission (which cannot happen through the workflow) is
    # closed without a decision rather than left to block the new one.
    Review.objects.filter(task=task, state__in=OPEN_STATES).update(state=ReviewState.WITHDRAWN)
    review = Review.objects.create(
        task=task,
        submission=submission,
        round=Review.objects.filter(task=task).count() + 1,
        submitted_at=submission.at,
    )
    compute_findings(review)
    return review


@transaction.atomic
def review_withdraw_for_task(*, task_id: int) -> int:
    """The task left review without a decision (cancelled): its open review leaves the queue."""
    return Review.objects.filter(task_id=task_id, state__in=OPEN_STATES).update(state=ReviewState.WITHDRAWN)


# ---- claim and assign -------------------------------------------------------------------------------


@transaction.atomic
def review_claim(*, review: Review, actor: User, now: datetime | None = None) -> Review:
    """Take an unclaimed review. Two experts claiming at once: the conditional UPDATE lets exactly one
    win; the other gets ReviewConflict. Claiming a review one already holds is a no-op."""
    now = now or timezone.now()
    _require_expert(actor, review)
    won = Review.objects.filter(pk=review.pk, state=ReviewState.PENDING).update(
        state=ReviewState.CLAIMED, expert=actor, claimed_at=now
    )
    review.refresh_from_db()
    if not won:
        if review.state == ReviewState.CLAIMED and review.expert_id == actor.pk:
            return review
        _require_open(review)
        _require_holder(review, actor)
    return review


@transaction.atomic
def review_assign(*, review: Review, actor: User, expert, now: datetime | None = None) -> Review:
    """A lead expert gives an open review to an expert (or takes it from one expert for another)."""
    now = now or timezone.now()
    _require_expert(actor, review)
    if not actor.has_perm("reviews.assign_review"):
        raise PermissionDenied(_("Only a lead expert assigns reviews."))
    review = _lock(review)
    _require_open(review)
    if not expert.is_active or not can(expert, "review.decide"):
        raise ValidationError({"expert": _("Reviews go to CDC experts.")})
    if not sees_task(expert, review.task_id):
        raise ValidationError({"expert": _("This expert does not see the task: share it with them first.")})
    review.state = ReviewState.CLAIMED
    review.expert = expert
    review.assigned_by = actor
    review.claimed_at = now
    review.save(update_fields=["state", "expert", "assigned_by", "claimed_at"])
    return review


# ---- comments ---------------------------------------------------------------------------------------


@transaction.atomic
def review_comment(
    *,
    review: Review,
    actor: User,
    body: str,
    target_kind: str | None = None,
    target_id: int | None = None,
    now: datetime | None = None,
) -> ReviewComment:
    """A comment on the task or on one of its entries (`target_kind` trajectory / contact / test /
    attempt, `target_id`). Allowed while the review is open, to its holder (or anyone, unclaimed)."""
    from .fieldwork_adapter import content_type_for, target_entry

    now = now or timezone.now()
    _require_expert(actor, review)
    review = _lock(review)
    _require_open(review)
    _require_holder(review, actor)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write the comment.")})
    target_type = None
    if target_kind or target_id:
        if not target_kind or not target_id or target_entry(review.task, target_kind, int(target_id)) is None:
            raise ValidationError({"target": _("This entry is not part of the task.")})
        target_type = content_type_for(target_kind)
    return ReviewComment.objects.create(
        task=review.task,
        review=review,
        author=actor,
        body=body,
        target_type=target_type,
        target_id=int(target_id) if target_type and target_id is not None else None,
        created_at=now,
    )


# ---- decisions --------------------------------------------------------------------------------------


def _take_for_decision(review: Review, actor: User, now: datetime) -> Review:
    _require_expert(actor, review)
    review = _lock(review)
    _require_open(review)
    _require_holder(review, actor)
    if review.task.status != TaskStatus.SUBMITTED:
        raise ReviewConflict(_("The task is no longer waiting for review."), "task_not_submitted")
    if review.state == ReviewState.PENDING:
        review.expert, review.claimed_at = actor, now
    return review


def _rework_clock_changes(task: TracingTask, now: datetime) -> dict[str, Any]:
    """The task fields that start the clock of a returned task, when tasks/clocks.py has one named
    "rework" (due field set to now + REVIEW_RETURN_WINDOW_MINUTES, stop field cleared, its alert bits
    cleared); else nothing: the deadline is then only on the review (`rework_due`)."""
    from tasks import clocks

    spec = getattr(clocks, "CLOCK_BY_NAME", {}).get("rework")
    if spec is None:
        return {}
    return {
        spec.due_field: now + timedelta(minutes=settings.REVIEW_RETURN_WINDOW_MINUTES),
        spec.stop_field: None,
        "clock_alerts": task.clock_alerts & ~(spec.warning_bit | spec.breach_bit),
    }


@transaction.atomic
def review_return(*, review: Review, actor: User, reasons: str, now: datetime | None = None) -> Review:
    """Return the task to the field team with reasons; it goes back with the comments of this review
    and must be resubmitted within REVIEW_RETURN_WINDOW_MINUTES. The assignee (else the sub-unit) is
    notified in the app and through the outbox."""
    from tasks.workflow import notify_field_team, task_change_status

    now = now or timezone.now()
    reasons = (reasons or "").strip()
    if not reasons:
        raise ValidationError({"reasons": _("Say what the field team must correct.")})
    review = _take_for_decision(review, actor, now)
    task = review.task
    rework_due = now + timedelta(minutes=settings.REVIEW_RETURN_WINDOW_MINUTES)
    task_change_status(
        task=task,
        to_status=TaskStatus.RETURNED,
        actor=actor,
        now=now,
        reason=reasons,
        **_rework_clock_changes(task, now),
    )
    review.state = ReviewState.DECIDED
    review.decision = Decision.RETURN
    review.reasons = reasons
    review.decided_at = now
    review.rework_due = rework_due
    review.save(
        update_fields=["state", "expert", "claimed_at", "decision", "reasons", "decided_at", "rework_due"]
    )
    notify_field_team(
        task,
        kind=Notification.Kind.RETURNED,
        now=now,
        reasons=reasons[:500],
        rework_due=rework_due.isoformat(),
        review=review.pk,
    )
    return review


def clean_disposal(task: TracingTask, data: dict[str, Any]) -> dict[str, Any]:
    """Check a disposal proposal (from the API or the page) and resolve its risk-area entries."""
    from .fieldwork_adapter import target_entry

    errors: dict[str, list[str]] = {}
    measure = data.get("measure") or ""
    if measure not in PersonMeasure.values:
        errors["measure"] = [_("Choose a measure for the person.")]
    try:
        days = int(data.get("measure_days") or 0)
    except (TypeError, ValueError):
        days = -1
    if measure == PersonMeasure.NONE:
        if days != 0:
            errors["measure_days"] = [_("No measure takes no days.")]
    elif not 1 <= days <= 60:
        errors["measure_days"] = [_("Give the number of days, 1 to 60.")]
    schedule = data.get("test_schedule_days") or []
    if isinstance(schedule, str):
        schedule = [part for part in schedule.replace("，", ",").replace(" ", ",").split(",") if part]
    try:
        schedule = sorted({int(day) for day in schedule})
    except (TypeError, ValueError):
        schedule = None
    if schedule is None or any(not 1 <= day <= 60 for day in schedule):
        errors["test_schedule_days"] = [_("Test days are numbers from 1 to 60, e.g. 1, 4, 7.")]
    areas = []
    for index, area in enumerate(data.get("risk_areas") or []):
        entry = (
            target_entry(task, "trajectory", int(area.get("entry_id") or 0))
            if str(area.get("entry_id") or "").isdigit()
            else None
        )
        level = area.get("level") or ""
        if entry is None:
            errors.setdefault("risk_areas", []).append(
                _("Entry %(n)s: not a place of this trajectory.") % {"n": index + 1}
            )
        elif level not in RiskLevel.values:
            errors.setdefault("risk_areas", []).append(
                _("Entry %(n)s: choose a risk level.") % {"n": index + 1}
            )
        else:
            areas.append((entry, level))
    if len({entry.pk for entry, _level in areas}) != len(areas):
        errors.setdefault("risk_areas", []).append(_("A place is designated twice."))
    if errors:
        raise ValidationError(errors)
    return {
        "measure": measure,
        "measure_days": days,
        "test_schedule_days": schedule,
        "areas": areas,
        "notify_person": bool(data.get("notify_person", True)),
        "note": (data.get("note") or "").strip(),
    }


@transaction.atomic
def review_approve(
    *, review: Review, actor: User, disposal: dict[str, Any], reasons: str = "", now: datetime | None = None
) -> Review:
    """Approve the investigation with a disposal proposal (for the notices issue). The proposal is
    written before the review is marked decided: from then on the database refuses to change either."""
    from django.contrib.contenttypes.models import ContentType

    from tasks.workflow import task_change_status

    now = now or timezone.now()
    review = _take_for_decision(review, actor, now)
    task = review.task
    cleaned = clean_disposal(task, disposal)
    proposal = DisposalProposal.objects.create(
        review=review,
        task=task,
        person_id=task.person_id,
        measure=cleaned["measure"],
        measure_days=cleaned["measure_days"],
        test_schedule_days=cleaned["test_schedule_days"],
        notify_person=cleaned["notify_person"],
        note=cleaned["note"],
        proposed_by=actor,
        created_at=now,
        approved_at=now,
    )
    if cleaned["areas"]:
        entry_type = ContentType.objects.get_for_model(cleaned["areas"][0][0])
        RiskAreaDesignation.objects.bulk_create(
            [
                RiskAreaDesignation(
                    proposal=proposal,
                    entry_type=entry_type,
                    entry_id=entry.pk,
                    level=level,
                    place=entry.place_name,
                    address=entry.address,
                    division_id=entry.division_id,
                    latitude=entry.latitude,
                    longitude=entry.longitude,
                    start=entry.started_at,
                    end=entry.ended_at,
                )
                for entry, level in cleaned["areas"]
            ]
        )
    task_change_status(
        task=task,
        to_status=TaskStatus.APPROVED,
        actor=actor,
        now=now,
        reason=reasons or _("Approved by expert review"),
        approved_at=now,
    )
    review.state = ReviewState.DECIDED
    review.decision = Decision.APPROVE
    review.reasons = (reasons or "").strip()
    review.decided_at = now
    review.save(update_fields=["state", "expert", "claimed_at", "decision", "reasons", "decided_at"])
    # The measure starts in the same transaction (monitoring's period and test schedule): an approval
    # never commits without it.
    hooks.disposal_approved([proposal.pk], now=now)
    return review
