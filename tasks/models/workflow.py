"""Dispatch, transfer (转办), clock escalations and notifications: the rows of issue 4.

Record first, notify later (STYLE.md): the sweep writes an `Escalation` per task, clock and level, and a
`Notification` per recipient (the in-app inbox). SMS and e-mail are `NotificationDelivery` rows, sent by a
separate step that claims them (tasks/notify.py).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Clock(models.TextChoices):
    DISPATCH = "dispatch", _("dispatch")
    RADIUS = "radius", _("activity radius")
    TRACE = "trace", _("trajectory")
    REWORK = "rework", _("rework after return")
    VERIFY = "verify", _("verification")
    REGISTER = "register", _("registration")


class AlertLevel(models.TextChoices):
    WARNING = "warning", _("warning")
    BREACH = "breach", _("breach")


class Transfer(models.Model):
    """A request to move a task to another jurisdiction. While it is pending the task is `transferring`,
    keeps its `division` (the sender's: it stays visible to the sender, read-only) and this row names the
    target, which is what makes it visible to the receiving duty desk (selectors.transfers_visible_to)."""

    SCOPE_PATH = "to_division__code"

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        REJECTED = "rejected", _("rejected")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="transfers"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    from_division = models.ForeignKey(
        "tasks.Division", verbose_name=_("from"), on_delete=models.PROTECT, related_name="+"
    )
    to_division = models.ForeignKey(
        "tasks.Division", verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    # The task's status when the transfer was requested: a rejection returns the task to it.
    from_status = models.CharField(_("status before"), max_length=20)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Never two open transfers of one task: the task is in exactly one place or in one transfer.
            models.UniqueConstraint(
                fields=["task"], condition=models.Q(status="pending"), name="one_pending_transfer_per_task"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending") | models.Q(decided_at__isnull=False),
                name="transfer_decided_has_time",
            ),
        ]
        indexes = [
            # The receiving desk's inbox: pending transfers whose target is under its code.
            models.Index(
                fields=["to_division"],
                name="transfer_pending_target",
                opclasses=["varchar_pattern_ops"],
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["task", "requested_at"], name="transfer_task"),
        ]

    def __str__(self) -> str:
        return f"{self.task} → {self.to_division_id} ({self.status})"


class Escalation(models.Model):
    """One clock of one task reaching one level (80 % warning, 100 % breach). Written by the sweep
    exactly once (the unique constraint, INSERT … ON CONFLICT DO NOTHING); kept when the task moves."""

    SCOPE_PATH = "task__division__code"

    # Indexes: one_escalation_per_task_clock_level serves lookups by task, escalation_division_prefix by
    # division; no duplicate foreign-key indexes (the sweep inserts these rows in bulk).
    # task and division, like the notifications' recipient, task and escalation, have no database constraint:
    # the sweep writes thousands at once and PostgreSQL checks a foreign key one row at a time (a quarter
    # of the sweep's time). The sweep's SQL takes them from existing rows; Django applies on_delete;
    # `manage.py check_integrity` (tasks/integrity.py) verifies them nightly.
    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        on_delete=models.CASCADE,
        related_name="escalations",
        db_index=False,
        db_constraint=False,
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices)
    level = models.CharField(_("level"), max_length=10, choices=AlertLevel.choices)
    # When the level was reached (the warning or breach moment) and the clock's deadline.
    due_at = models.DateTimeField(_("reached at"))
    deadline = models.DateTimeField(_("deadline"))
    # The task's division when it was recorded (the task may later be transferred).
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["-due_at", "-id"]
        constraints = [
            # The deadline tells rounds of a clock apart (a task returned twice has two rework rounds).
            models.UniqueConstraint(
                fields=["task", "clock", "level", "deadline"], name="one_escalation_per_task_clock_level"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="escalation_due_at"),
            models.Index(
                fields=["division"], name="escalation_division_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.clock} {self.level}"


class Notification(models.Model):
    """One message to one account: the in-app inbox row (unread while `read_at` is NULL). The text is
    rendered when shown or sent, in the reader's language, from `kind` and `data`."""

    class Kind(models.TextChoices):
        ESCALATION = "escalation", _("clock escalation")
        TRANSFER_REQUESTED = "transfer_requested", _("transfer requested")
        TRANSFER_ACCEPTED = "transfer_accepted", _("transfer accepted")
        TRANSFER_REJECTED = "transfer_rejected", _("transfer rejected")
        ASSIGNED = "assigned", _("task assigned")
        # An alert of the health-monitoring clocks; `data["alert"]` says which (rendered by monitoring).
        MONITORING = "monitoring", _("health monitoring alert")
        # Health monitoring (the monitoring app): the duty desk and the county's CDC experts, at once.
        POSITIVE_RESULT = "positive_result", _("positive test result")
        ABNORMAL_CHECKIN = "abnormal_checkin", _("abnormal check-in")
        # To the field team: a reviewer returned their work, or a transfer brought a task to them.
        RETURNED = "returned", _("task returned")
        TRANSFERRED = "transferred", _("task transferred to you")

    # Indexes: notification_recipient serves lookups by recipient, the unique (escalation, recipient) by
    # escalation, notification_transfer by transfer; no duplicate foreign-key indexes.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_constraint=False,
    )
    escalation = models.ForeignKey(
        Escalation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    transfer = models.ForeignKey(
        Transfer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second sweep (or a retried one) cannot notify the same person twice of one escalation.
            models.UniqueConstraint(
                fields=["escalation", "recipient"],
                condition=models.Q(escalation__isnull=False),
                name="one_notification_per_escalation_recipient",
            ),
        ]
        indexes = [
            # The unread count of the inbox.
            models.Index(
                fields=["recipient", "created_at"],
                name="notification_unread",
                condition=models.Q(read_at__isnull=True),
            ),
            models.Index(fields=["recipient", "created_at"], name="notification_recipient"),
            models.Index(
                fields=["transfer"], name="notification_transfer", condition=models.Q(transfer__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}"


class NotificationDelivery(models.Model):
    """Sending one notification through one outside channel (SMS, e-mail). Claimed by the delivery step
    with SKIP LOCKED; at-least-once (see tasks/notify.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=20)
    address = models.CharField(_("address"), max_length=254)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="one_delivery_per_notification_channel"
            ),
        ]
        indexes = [
            # deliver_notifications: only unsent rows are in this index.
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending", condition=models.Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of notification {self.notification_id} ({self.status})"
