"""The check-in reminder SMS to the person: one row per period and day, queued by the notices app when
the check-in clock reminds the person (monitoring.hooks.on_person_reminders) and sent by the notices'
SMS flow of the outbox (notices/checkin_sms.py). `phone_hash` is the keyed hash of the number the SMS
goes to: an SMS reply is matched to the period through it, never by decrypting a phone."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .periods import MonitoringPeriod


class CheckInSms(models.Model):
    SCOPE_PATH = "period__division__code"

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    period = models.ForeignKey(
        MonitoringPeriod, verbose_name=_("monitoring period"), on_delete=models.CASCADE, related_name="sms"
    )
    day = models.DateField(_("day"))
    phone_hash = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gateway_id = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("check-in reminder SMS")
        verbose_name_plural = _("check-in reminder SMS")
        ordering = ["id"]
        constraints = [
            # A second sweep of the same reminder cannot queue the SMS twice.
            models.UniqueConstraint(fields=["period", "day"], name="checkin_sms_once_per_day"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="checkin_sms_pending", condition=Q(status="pending")
            ),
            models.Index(fields=["phone_hash"], name="checkin_sms_phone", condition=~Q(phone_hash="")),
        ]

    def __str__(self) -> str:
        return f"check-in SMS M{self.period_id} {self.day} {self.status}"

    @property
    def channel(self) -> str:
        # The outbox groups the claimed rows by channel: these are all SMS.
        return "sms"
