"""Supervision orders (督办): a piece of work handed down by a commander or a duty officer, with an owner
(a unit or a person), a deadline and a thread of answers, tracked until the issuer accepts it.

States: issued → acknowledged → in_progress (after the first reply) → completed → accepted; the issuer
may send a completed order back (to in_progress when it has replies, else acknowledged), with a reason.

The deadline clock: `next_alert_at` is the next moment the sweep must look at the order (the warning
before the deadline, then the deadline itself); NULL once both are recorded or the order is completed.
Only orders with a running clock are in the partial index the sweep reads, so a sweep costs the orders
that are due, not the table. `alerts` holds the bits of the escalations already recorded.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

WARNING_BIT = 1
OVERDUE_BIT = 2


class OrderState(models.TextChoices):
    ISSUED = "issued", _("issued")
    ACKNOWLEDGED = "acknowledged", pgettext_lazy("supervision order", "acknowledged")
    IN_PROGRESS = "in_progress", _("in progress")
    COMPLETED = "completed", _("completed")
    ACCEPTED = "accepted", pgettext_lazy("supervision order", "accepted")


# The states in which the owner still owes an answer: the deadline clock runs.
OPEN_STATES = (OrderState.ISSUED, OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS)


class OrderPriority(models.TextChoices):
    NORMAL = "normal", _("normal")
    IMPORTANT = "important", _("important")
    URGENT = "urgent", _("urgent")


class SupervisionOrder(models.Model):
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("instructions"), blank=True)
    tasks = models.ManyToManyField(
        "tasks.TracingTask", verbose_name=_("attached tasks"), blank=True, related_name="supervision_orders"
    )
    divisions = models.ManyToManyField(
        "tasks.Division", verbose_name=_("attached divisions"), blank=True, related_name="+"
    )
    owner_unit = models.ForeignKey(
        "tasks.Unit",
        verbose_name=_("owner unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supervision_orders",
    )
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_supervision_orders",
    )
    # Where the order hangs off the territory: it is visible in the issuer's and in the owner's subtree.
    # (Their prefix indexes below serve the foreign keys too.)
    issuer_division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("issuing desk"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    owner_division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("owner's division"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    issuer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issuer"),
        on_delete=models.PROTECT,
        related_name="issued_supervision_orders",
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=OrderPriority.choices, default=OrderPriority.NORMAL
    )
    deadline = models.DateTimeField(_("deadline"))
    state = models.CharField(_("state"), max_length=12, choices=OrderState.choices, default=OrderState.ISSUED)
    alerts = models.PositiveSmallIntegerField(_("escalations recorded"), default=0)
    next_alert_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("escalated as overdue at"), null=True, blank=True)
    sent_back_count = models.PositiveSmallIntegerField(_("times sent back"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner_unit__isnull=False) | models.Q(owner_user__isnull=False),
                name="supervision_order_has_owner",
            ),
        ]
        indexes = [
            # The sweep: only orders with a running clock are in it.
            models.Index(
                fields=["next_alert_at"],
                name="supervision_order_alert_due",
                condition=models.Q(next_alert_at__isnull=False),
            ),
            models.Index(
                fields=["issuer_division"], name="order_issuer_div_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["owner_division"], name="order_owner_div_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"D{self.pk}"

    @property
    def number(self) -> str:
        return f"D{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now=None) -> bool:
        """Past its deadline without an answer, or answered after it."""
        if self.completed_at is not None:
            return self.completed_at > self.deadline
        return (now or timezone.now()) >= self.deadline


class SupervisionOrderEvent(models.Model):
    """One entry of an order's thread: what the owner and the issuer did, and the escalations."""

    class Kind(models.TextChoices):
        ISSUED = "issued", _("issued")
        ACKNOWLEDGED = "acknowledged", pgettext_lazy("supervision order", "acknowledged")
        REPLY = "reply", _("progress reply")
        COMPLETED = "completed", _("completed")
        ACCEPTED = "accepted", pgettext_lazy("supervision order", "accepted")
        SENT_BACK = "sent_back", _("sent back")
        WARNING = "warning", _("deadline approaching")
        OVERDUE = "overdue", _("overdue")

    # The thread index (order, created_at) serves the foreign key too.
    order = models.ForeignKey(
        SupervisionOrder, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("supervision order event")
        verbose_name_plural = _("supervision order events")
        ordering = ["created_at", "id"]
        constraints = [
            # The last guard of "exactly once": a second sweep cannot record the same escalation again.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=models.Q(kind__in=["warning", "overdue"]),
                name="one_escalation_of_each_level_per_order",
            ),
        ]
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_thread")]

    def __str__(self) -> str:
        return f"{self.kind} of order {self.order_id}"
