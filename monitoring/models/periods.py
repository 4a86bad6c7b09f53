"""Monitoring periods, the daily check-ins of the people in them, the clock alerts of those check-ins and
the samples the test schedule asks for.

A period is one person's measure (home quarantine, health monitoring, ...) from its first to its last
day, started by an approved disposal or a completed returnee registration. Each day of the period the
person is due one check-in by CHECKIN_DUE_HOUR (local time); the sweep follows `next_due_at`, the next
moment at which the period's clock needs looking at, through its copy in PeriodClock (partial index:
only running and escalated periods with a clock pending).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reviews.models import PersonMeasure


class PeriodState(models.TextChoices):
    RUNNING = "running", _("running")
    RELEASED = "released", _("released")
    LOST_CONTACT = "lost_contact", _("lost contact")
    ESCALATED = "escalated", _("escalated")


# States in which the person is still monitored: check-ins are due, the clocks run.
OPEN_STATES = (PeriodState.RUNNING, PeriodState.ESCALATED)


class MonitoringOrigin(models.TextChoices):
    DISPOSAL = "disposal", _("expert's disposal")
    REGISTRATION = "registration", _("returnee registration")


class Symptom(models.TextChoices):
    FEVER = "fever", _("fever")
    COUGH = "cough", _("cough")
    SORE_THROAT = "sore_throat", _("sore throat")
    LOSS_OF_SMELL_TASTE = "loss_of_smell_taste", _("loss of smell or taste")
    OTHER = "other", _("other symptom")


class CheckInChannel(models.TextChoices):
    FIELD = "field", _("sub-unit (phone)")
    PERSON = "person", _("personal link")
    SMS = "sms", _("SMS reply")
    API = "api", _("API")


class MonitoringPeriod(models.Model):
    SCOPE_PATH = "division__code"

    person = models.ForeignKey(
        "tasks.Person", verbose_name=_("person"), on_delete=models.PROTECT, related_name="monitoring_periods"
    )
    # The task the period follows from; it closes with the outcome "released" when the person is.
    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="monitoring_periods",
        db_index=False,  # period_task below
    )
    # One period per approved disposal at most: creating the periods again is a no-op.
    disposal = models.OneToOneField(
        "reviews.DisposalProposal",
        verbose_name=_("disposal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="monitoring_period",
    )
    # Every disposal whose measure this period carries: the one that started it and those that extended
    # it (a person has one open period). The catch-up skips a disposal found here.
    applied_disposals = ArrayField(models.BigIntegerField(), default=list, blank=True, editable=False)
    origin = models.CharField(_("origin"), max_length=15, choices=MonitoringOrigin.choices)
    measure = models.CharField(_("measure"), max_length=30, choices=PersonMeasure.choices)
    # The village whose sub-unit monitors the person: the scope of the period and its "due today" list.
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        on_delete=models.PROTECT,
        related_name="monitoring_periods",
        db_index=False,
    )
    subunit = models.ForeignKey(
        "tasks.Unit",
        verbose_name=_("sub-unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    state = models.CharField(
        _("state"), max_length=15, choices=PeriodState.choices, default=PeriodState.RUNNING
    )
    state_changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)

    # The check-in clock: the day whose check-in is awaited, the alerts already sent for that day
    # (bits: reminder 1, sub-unit leader 2, duty desk 4), and the next moment the sweep must look.
    due_day = models.DateField(_("check-in awaited for"), null=True, blank=True)
    checkin_alerts = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(_("next clock moment"), null=True, blank=True)
    consecutive_misses = models.PositiveSmallIntegerField(_("consecutive missed check-ins"), default=0)
    last_checkin_at = models.DateTimeField(_("last check-in"), null=True, blank=True)
    # An abnormal check-in or a positive result not yet cleared: the person cannot be released.
    abnormal_open = models.BooleanField(_("open abnormality"), default=False)

    # The person's own check-in link: a keyed hash of the token (the token itself is only in the SMS).
    link_token_hash = models.CharField(max_length=64, blank=True, default="")

    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # period_released_by below: only released periods
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("monitoring period")
        verbose_name_plural = _("monitoring periods")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="period_days"),
            # One open period per person: a second measure extends or replaces it, never runs beside it.
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(state__in=["running", "escalated"]),
                name="one_open_period_per_person",
            ),
        ]
        indexes = [
            # Scope by territory prefix, and the village's "due today" list.
            models.Index(
                fields=["division", "state"],
                name="period_division_prefix",
                opclasses=["varchar_pattern_ops", ""],
            ),
            models.Index(fields=["task"], name="period_task"),
            # Each sweep step rewrites every index of the periods it moves on: none for the empty ones.
            models.Index(
                fields=["released_by"], name="period_released_by", condition=Q(released_by__isnull=False)
            ),
            models.Index(
                fields=["link_token_hash"], name="period_link_token", condition=~Q(link_token_hash="")
            ),
        ]

    def __str__(self) -> str:
        return f"M{self.pk} {self.measure} {self.starts_on}..{self.ends_on}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class PeriodClock(models.Model):
    """The sweep's queue: one narrow row per period with its pending clock moment, kept by statement
    triggers on the period table (migration 0060: `next_due_at` while the period is running or
    escalated, else NULL); the application never writes it, but the sweep's step, which writes the clock
    rows of the periods it moved in its own statement with the update trigger off (migration 0061).

    The moment lives here so that the period table has no index on it: the sweep moves the clock of
    every period at each edge, and an update that changes no indexed column of the period is HOT (no
    new entry in the period's eight indexes). Only this table's two indexes get new entries."""

    period = models.OneToOneField(
        MonitoringPeriod, primary_key=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    next_due_at = models.DateTimeField(null=True, blank=True)
    # The period's village, copied by the triggers: the sweep claims the due periods of a moment village
    # by village, so that one step tells a sub-unit or a desk of its misses in one notification.
    division_code = models.CharField(max_length=12, default="")

    class Meta:
        indexes = [
            # The due predicate of the sweep: only periods with a clock moment pending.
            models.Index(
                fields=["next_due_at", "division_code"],
                name="period_clock_due_village",
                condition=Q(next_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"M{self.period_id} clock {self.next_due_at}"


class CheckIn(models.Model):
    """One daily check-in. Three ways in (the sub-unit's phone, the person's link, an SMS reply), one
    record; `idempotency_key` makes a resent form or a replayed offline queue a no-op."""

    SCOPE_PATH = "period__division__code"

    period = models.ForeignKey(
        MonitoringPeriod,
        verbose_name=_("monitoring period"),
        on_delete=models.CASCADE,
        related_name="checkins",
    )
    # The local day the check-in counts for.
    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=10, choices=CheckInChannel.choices)
    temperature = models.DecimalField(
        _("temperature (°C)"),
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(34), MaxValueValidator(43)],
    )
    symptoms = ArrayField(
        models.CharField(max_length=25, choices=Symptom.choices),
        verbose_name=_("symptoms"),
        default=list,
        blank=True,
    )
    location = models.CharField(_("where the person is"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    abnormal = models.BooleanField(_("abnormal"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    idempotency_key = models.UUIDField(_("idempotency key"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-day", "-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="checkin_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(temperature__isnull=True) | Q(temperature__gte=34, temperature__lte=43),
                name="checkin_temperature_range",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "day"], name="checkin_period_day"),
            models.Index(fields=["day"], name="checkin_abnormal_day", condition=Q(abnormal=True)),
        ]

    def __str__(self) -> str:
        return f"check-in {self.pk} of M{self.period_id} on {self.day}"


class MonitoringAlertKind(models.TextChoices):
    CHECKIN_REMINDER = "checkin_reminder", _("check-in reminder")
    CHECKIN_LEADER = "checkin_leader", _("missed check-in: sub-unit leader")
    CHECKIN_DESK = "checkin_desk", _("missed check-in: duty desk")
    LOST_CONTACT = "lost_contact", _("lost contact")
    ABNORMAL = "abnormal", _("abnormal check-in")
    POSITIVE = "positive", _("positive result")
    SAMPLE_OVERDUE = "sample_overdue", _("sample overdue")


class MonitoringAlert(models.Model):
    """An alert of the monitoring clocks, recorded once: the unique (period, kind, day) is the last guard
    of exactly-once when two sweeps run at the same time."""

    SCOPE_PATH = "period__division__code"

    # The sweep inserts alerts in sets for periods it holds locked: no row-by-row foreign-key check, and
    # no index of its own (the unique (period, kind, day) leads with it).
    period = models.ForeignKey(
        MonitoringPeriod,
        verbose_name=_("monitoring period"),
        on_delete=models.CASCADE,
        related_name="alerts",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=MonitoringAlertKind.choices)
    # The check-in day (or sample due day) the alert is about.
    day = models.DateField(_("day"))
    checkin = models.ForeignKey(
        CheckIn,
        verbose_name=_("check-in"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("raised at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("monitoring alert")
        verbose_name_plural = _("monitoring alerts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["period", "kind", "day"], name="monitoring_alert_once"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="alert_open", condition=Q(acknowledged_at__isnull=True)),
            # Most alerts have neither (clock alerts): only the rows that do are indexed.
            models.Index(fields=["checkin"], name="alert_checkin", condition=Q(checkin__isnull=False)),
            models.Index(
                fields=["acknowledged_by"],
                name="alert_acknowledged_by",
                condition=Q(acknowledged_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} M{self.period_id} {self.day}"


class SampleState(models.TextChoices):
    DUE = "due", _("due")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class SampleDue(models.Model):
    """A sample the test schedule asks for: the disposal's `test_schedule_days` become one item per day.
    A result (the lab feed or a result typed on the task) closes it."""

    SCOPE_PATH = "period__division__code"

    period = models.ForeignKey(
        MonitoringPeriod,
        verbose_name=_("monitoring period"),
        on_delete=models.CASCADE,
        related_name="samples",
    )
    # Day of the schedule (1 = the day of approval) and the date it falls on.
    schedule_day = models.PositiveSmallIntegerField(_("day of the schedule"))
    due_on = models.DateField(_("due on"))
    test_type = models.CharField(_("test type"), max_length=20, default="nucleic_acid")
    state = models.CharField(_("state"), max_length=10, choices=SampleState.choices, default=SampleState.DUE)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    # The result that closed it: "positive" / "negative" / "invalid" ("pending" does not close it).
    result = models.CharField(_("result"), max_length=10, blank=True)
    # When the sweep raised its overdue alert: the sweep looks only at open items not yet alerted.
    overdue_alerted_at = models.DateTimeField(_("overdue alert raised at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sample due")
        verbose_name_plural = _("samples due")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["period", "schedule_day"], name="sample_once_per_day"),
        ]
        indexes = [
            models.Index(fields=["due_on"], name="sample_due_open", condition=Q(state="due")),
            # The sweep: overdue items not yet alerted, so it does not re-read the backlog every minute.
            models.Index(
                fields=["due_on"],
                name="sample_overdue_pending",
                condition=Q(state="due", overdue_alerted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"sample day {self.schedule_day} of M{self.period_id}"
