"""Lab results from the laboratories' feed (API and file import), matched to persons by the blind index,
and the history of each person's case status.

A result is stored once per (lab, sample_id): a resend is a duplicate. It carries the identity the lab
gave (encrypted, with its keyed hashes for matching) and, once matched, the person, the person's open
task and open monitoring period. `division` is where the result belongs: the account of the lab that
sent it while it is unmatched (a result without a person has no territory of its own), the task's or the
period's village once matched; lists and the unmatched queue are scoped by it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tasks.crypto import EncryptedCharField
from tasks.models import CaseStatus, TestResult


class LabResultValue(models.TextChoices):
    POSITIVE = "positive", _("positive")
    NEGATIVE = "negative", _("negative")
    PENDING = "pending", _("pending")
    INVALID = "invalid", _("invalid")


class MatchState(models.TextChoices):
    MATCHED = "matched", _("matched")
    UNMATCHED = "unmatched", _("unmatched")
    REJECTED = "rejected", _("rejected")


class LabResult(models.Model):
    SCOPE_PATH = "division__code"

    lab = models.CharField(_("laboratory"), max_length=100)
    sample_id = models.CharField(_("sample id"), max_length=100)
    sampled_at = models.DateTimeField(_("sample time"))
    test_type = models.CharField(_("test type"), max_length=30, choices=TestResult.Type.choices)
    result = models.CharField(_("result"), max_length=10, choices=LabResultValue.choices)
    # The identity as the lab gave it; matched on the keyed hashes only (tasks/validation.py).
    id_number = EncryptedCharField(_("document number"), max_length=30, blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True)
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=50, blank=True)
    # person_key of the phone + name ("pn:…"), when both were given.
    phone_name_key = models.CharField(max_length=80, blank=True)

    person = models.ForeignKey(
        "tasks.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lab_results",
    )
    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lab_results",
        db_constraint=False,
    )
    period = models.ForeignKey(
        "monitoring.MonitoringPeriod",
        verbose_name=_("monitoring period"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lab_results",
    )
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    match_state = models.CharField(
        _("match"), max_length=10, choices=MatchState.choices, default=MatchState.UNMATCHED
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    matched_at = models.DateTimeField(_("matched at"), null=True, blank=True)
    # NULL when the feed matched it by the blind index; the duty officer who matched it by hand.
    matched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("matched by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)

    class Meta:
        verbose_name = _("lab result")
        verbose_name_plural = _("lab results")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "sample_id"], name="lab_result_once"),
        ]
        indexes = [
            # Scoped lists by territory prefix.
            models.Index(fields=["division"], name="lab_result_division", opclasses=["varchar_pattern_ops"]),
            # The unmatched queue: only the rows waiting for a duty officer.
            models.Index(
                fields=["received_at"], name="lab_result_unmatched", condition=Q(match_state="unmatched")
            ),
            models.Index(fields=["person"], name="lab_result_person", condition=Q(person__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.lab}:{self.sample_id}"


class CaseStatusChange(models.Model):
    """One change of a person's case status: from, to, why, the result behind it, who and when."""

    person = models.ForeignKey(
        "tasks.Person", verbose_name=_("person"), on_delete=models.CASCADE, related_name="case_status_changes"
    )
    from_status = models.CharField(_("previous case status"), max_length=15, choices=CaseStatus.choices)
    to_status = models.CharField(_("new case status"), max_length=15, choices=CaseStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    source_result = models.ForeignKey(
        LabResult,
        verbose_name=_("lab result"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A result typed into a task by the field team.
    source_test = models.ForeignKey(
        "tasks.TestResult",
        verbose_name=_("test result"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("case status change")
        verbose_name_plural = _("case status changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "at"], name="case_status_person_at")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.from_status} → {self.to_status}"
