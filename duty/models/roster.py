"""Swaps of the duty roster. The shifts themselves are tasks.models.DutyShift (the sweep reads them to
find who answers for a desk's breaches); a swap exchanges the officers of two shifts and is kept here, so
the roster shows who was meant to be on duty and who agreed to take over."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ShiftSwap(models.Model):
    SCOPE_PATH = "first_shift__unit__division__code"

    first_shift = models.ForeignKey(
        "tasks.DutyShift", verbose_name=_("first shift"), on_delete=models.CASCADE, related_name="+"
    )
    second_shift = models.ForeignKey(
        "tasks.DutyShift", verbose_name=_("second shift"), on_delete=models.CASCADE, related_name="+"
    )
    # Who held each shift before the swap (after it, the other one holds it).
    first_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("first officer"), on_delete=models.PROTECT, related_name="+"
    )
    second_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("second officer"), on_delete=models.PROTECT, related_name="+"
    )
    swapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("swapped by"), on_delete=models.PROTECT, related_name="+"
    )
    swapped_at = models.DateTimeField(_("swapped at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("shift swap")
        verbose_name_plural = _("shift swaps")
        ordering = ["-swapped_at", "-id"]

    def __str__(self) -> str:
        return f"swap {self.first_shift_id} <-> {self.second_shift_id}"
