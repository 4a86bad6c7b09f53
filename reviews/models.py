"""Expert review (issue 6): one Review per submission of a task, the comments and automatic findings on
it, and the disposal proposed when it is approved.

"Whoever checks is responsible": a decided Review (who, when, approve/return, reasons) and the
DisposalProposal decided with it cannot be changed or deleted afterwards. The services refuse
(reviews/services.py) and a PostgreSQL trigger refuses too (migration 0002), so neither a bug, the
admin, nor a hand-written UPDATE can rewrite a decision. A later change needs a new Review, which
exists only when the task is submitted again.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tasks.crypto import EncryptedKeysJSONField


class ReviewState(models.TextChoices):
    PENDING = "pending", _("waiting for an expert")
    CLAIMED = "claimed", _("under review")
    DECIDED = "decided", _("decided")
    # The task left review without a decision (cancelled, for example).
    WITHDRAWN = "withdrawn", _("withdrawn")


OPEN_STATES = (ReviewState.PENDING, ReviewState.CLAIMED)


class Decision(models.TextChoices):
    APPROVE = "approve", _("approved")
    RETURN = "return", _("returned to the field team")


class Review(models.Model):
    """The review of one submission of a task. Opened when the task is submitted (the queue entry),
    claimed by an expert or assigned by a lead expert, decided once."""

    SCOPE_PATH = "task__division__code"

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.PROTECT, related_name="reviews"
    )
    # The history row of the submission this review answers (one review per submission).
    submission = models.OneToOneField(
        "tasks.TaskTransition",
        verbose_name=_("submission"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, blank=True)
    reasons = models.TextField(_("reasons"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # On a return: when the field team must have resubmitted (now + REVIEW_RETURN_WINDOW_MINUTES).
    rework_due = models.DateTimeField(_("resubmit by"), null=True, blank=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-submitted_at", "-id"]
        permissions = [("assign_review", _("Can assign reviews to experts (lead expert)"))]
        constraints = [
            models.UniqueConstraint(
                fields=["task"],
                condition=models.Q(state__in=["pending", "claimed"]),
                name="one_open_review_per_task",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "withdrawn"])
                | models.Q(expert__isnull=False, claimed_at__isnull=False),
                name="review_claimed_has_expert",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="decided")
                | models.Q(decision__in=["approve", "return"], decided_at__isnull=False),
                name="review_decided_is_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(state="decided") | models.Q(decision="", decided_at__isnull=True),
                name="review_decision_only_when_decided",
            ),
            models.CheckConstraint(
                condition=~models.Q(decision="return")
                | (~models.Q(reasons="") & models.Q(rework_due__isnull=False)),
                name="review_return_has_reasons_and_clock",
            ),
        ]
        indexes = [
            # The review queue: open reviews only.
            models.Index(
                fields=["submitted_at"],
                name="review_queue_open",
                condition=models.Q(state__in=["pending", "claimed"]),
            ),
            models.Index(fields=["task", "submitted_at"], name="review_task"),
        ]

    def __str__(self) -> str:
        return f"R{self.pk} ({self.task_id} #{self.round})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ReviewComment(models.Model):
    """A remark of an expert on the task as a whole or on one of its entries (a trajectory entry, a
    close contact, a test result, a contact attempt): `target_type` + `target_id` name the entry."""

    SCOPE_PATH = "task__division__code"

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.PROTECT, related_name="review_comments"
    )
    review = models.ForeignKey(
        Review, verbose_name=_("review"), on_delete=models.PROTECT, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(_("comment"))
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        verbose_name = _("review comment")
        verbose_name_plural = _("review comments")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target_type__isnull=True, target_id__isnull=True)
                | models.Q(target_type__isnull=False, target_id__isnull=False),
                name="comment_target_complete",
            ),
            models.CheckConstraint(condition=~models.Q(body=""), name="comment_not_empty"),
        ]
        indexes = [models.Index(fields=["task", "created_at"], name="review_comment_task")]

    def __str__(self) -> str:
        return f"C{self.pk} on {self.task_id}"


class Severity(models.TextChoices):
    INFO = "info", _("information")
    WARNING = "warning", _("warning")
    ERROR = "error", _("error")


SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


# The parameters of a finding that quote a field record's encrypted values (reviews/findings.py).
FINDING_ENCRYPTED_PARAMS = ("name", "place", "other_place", "from_place")


class Finding(models.Model):
    """One automatic consistency finding (reviews/findings.py) about a submission. The text is
    rendered when shown, in the reader's language, from `rule` and `params`."""

    SCOPE_PATH = "task__division__code"

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="review_findings"
    )
    review = models.ForeignKey(
        Review, verbose_name=_("review"), on_delete=models.CASCADE, related_name="findings"
    )
    rule = models.CharField(_("rule"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    # Places and close contacts' names are encrypted at rest like the field records they come from.
    params = EncryptedKeysJSONField(default=dict, blank=True, encrypted_keys=FINDING_ENCRYPTED_PARAMS)
    # The entry the finding is about (shown next to it); NULL for the task as a whole.
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["id"]
        indexes = [models.Index(fields=["review"], name="finding_review")]

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity})"

    @property
    def message(self) -> str:
        from .findings import render_message

        return render_message(self.rule, self.params)

    @property
    def title(self) -> str:
        from .findings import rule_title

        return rule_title(self.rule)


class PersonMeasure(models.TextChoices):
    CENTRALISED_QUARANTINE = "centralised_quarantine", _("centralised quarantine")
    HOME_QUARANTINE = "home_quarantine", _("home quarantine")
    HEALTH_MONITORING = "health_monitoring", _("health monitoring")
    NONE = "none", _("no measure")


class DisposalProposal(models.Model):
    """The disposal (处置) an expert proposes when approving a task. The notices issue reads these:
    `measure` + `measure_days` for the person, `test_schedule_days` (days after `approved_at`, day 1
    being the day of approval), `risk_areas` for places of the trajectory, `notify_person` for
    whether a notice goes to the person. Written with the decision; never changed afterwards."""

    SCOPE_PATH = "task__division__code"

    review = models.OneToOneField(
        Review, verbose_name=_("review"), on_delete=models.PROTECT, related_name="disposal"
    )
    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.PROTECT, related_name="disposals"
    )
    person = models.ForeignKey(
        "tasks.Person", verbose_name=_("person"), on_delete=models.PROTECT, related_name="disposals"
    )
    measure = models.CharField(_("measure"), max_length=30, choices=PersonMeasure.choices)
    measure_days = models.PositiveSmallIntegerField(_("days"), default=0, validators=[MaxValueValidator(60)])
    test_schedule_days = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(60)]),
        verbose_name=_("test on days"),
        default=list,
        blank=True,
    )
    notify_person = models.BooleanField(_("send a notice to the person"), default=True)
    note = models.TextField(_("note"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("proposed by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    # When the review approving the task was decided (the same moment as review.decided_at).
    approved_at = models.DateTimeField(_("approved at"))

    class Meta:
        verbose_name = _("disposal proposal")
        verbose_name_plural = _("disposal proposals")
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(measure="none") & models.Q(measure_days=0))
                | (~models.Q(measure="none") & models.Q(measure_days__gte=1, measure_days__lte=60)),
                name="disposal_measure_days",
            ),
        ]
        indexes = [
            # The notices issue: proposals that ask for a notice, newest first.
            models.Index(
                fields=["approved_at"], name="disposal_to_notify", condition=models.Q(notify_person=True)
            ),
        ]

    def __str__(self) -> str:
        return f"D{self.pk} {self.measure} {self.measure_days}d"


class RiskLevel(models.TextChoices):
    HIGH = "high", _("high-risk area")
    MEDIUM = "medium", _("medium-risk area")
    LOW = "low", _("low-risk area")


class RiskAreaDesignation(models.Model):
    """A place of the trajectory proposed as a risk area. The entry's place, address, division,
    position and times are copied: the proposal keeps saying what was decided even if the entry is
    edited in a later round."""

    proposal = models.ForeignKey(
        DisposalProposal, verbose_name=_("proposal"), on_delete=models.PROTECT, related_name="risk_areas"
    )
    entry_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entry_id = models.PositiveBigIntegerField(null=True, blank=True)
    level = models.CharField(_("risk level"), max_length=10, choices=RiskLevel.choices)
    place = models.CharField(_("place"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    start = models.DateTimeField(_("from"), null=True, blank=True)
    end = models.DateTimeField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("risk-area designation")
        verbose_name_plural = _("risk-area designations")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "entry_type", "entry_id"], name="one_designation_per_entry"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.place} ({self.level})"
