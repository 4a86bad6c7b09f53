"""Shift handovers: what the outgoing duty officer hands to the incoming one, frozen when written."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Handover(models.Model):
    SCOPE_PATH = "desk__division__code"

    shift = models.OneToOneField(
        "tasks.DutyShift", verbose_name=_("shift"), on_delete=models.PROTECT, related_name="handover"
    )
    desk = models.ForeignKey(
        "tasks.Unit", verbose_name=_("duty desk"), on_delete=models.PROTECT, related_name="+"
    )
    # The data window the snapshot was computed over: the shift's start to its end (or the moment of the
    # handover when the officer hands over early).
    window_start = models.DateTimeField(_("from"))
    window_end = models.DateTimeField(_("to"))
    # {"sections": {name: {"count": n, "task_ids": [...], "ids": [...]}}, "generated_at": iso}: kept as it
    # was handed over, whatever happens to the tasks afterwards.
    snapshot = models.JSONField(_("snapshot"), default=dict)
    notes = models.TextField(_("notes"), blank=True, default="")
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("handed over by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("handed over at"), default=timezone.now)
    next_shift = models.ForeignKey(
        "tasks.DutyShift",
        verbose_name=_("next shift"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shift handover")
        verbose_name_plural = _("shift handovers")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["desk", "-created_at"], name="handover_desk_recent")]

    def __str__(self) -> str:
        return f"handover of shift {self.shift_id}"
