"""Reports (issue 7): rollups for statistics and the dashboard, numbered report versions, and the log of
pushes to upstream platforms.

The three rollup tables are written ONLY by PostgreSQL statement-level triggers on tasks_tracingtask
(migration 0002, reports/rollup_sql.py): every INSERT / UPDATE / DELETE statement, whoever runs it
(intake batch, dispatch, sweep, a service, the admin), adds the aggregated difference between the old
and the new rows in the same transaction. Django never writes them except `rollups_rebuild()`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DivisionCount(models.Model):
    """Tasks per (division as stored on the task, status, priority, clock state).

    clock_state: 0 = no running clock alerted, 1 = a running clock past its warning, 2 = a running clock
    breached (as recorded by the deadline sweep in `clock_alerts`). Coarser levels are sums over
    `left(division_code, n)`."""

    division_code = models.CharField(max_length=12)
    status = models.CharField(max_length=20)
    priority = models.SmallIntegerField()
    clock_state = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["division_code", "status", "priority", "clock_state"], name="rollup_division_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["division_code"], name="rollup_division_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.status} p{self.priority} c{self.clock_state}: {self.n}"


class BatchCount(models.Model):
    """Tasks per (intake batch, county = first 6 digits of the division, status)."""

    batch_id = models.BigIntegerField()
    county = models.CharField(max_length=6)
    status = models.CharField(max_length=20)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch_id", "county", "status"], name="rollup_batch_key")
        ]
        indexes = [models.Index(fields=["county", "batch_id"], name="rollup_batch_county")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} {self.county} {self.status}: {self.n}"


class KindCount(models.Model):
    """Tasks per (division as stored on the task, work type, status, outcome, hour the task ended): the
    statistics by kind and by outcome (open, closed today, lost contact, ended in a window). Tasks that
    have not ended count under the hour 1970-01-01 00:00 UTC (reports/rollup_sql.py NOT_ENDED); the
    hour is in UTC, and whole hours add up to local days."""

    division_code = models.CharField(max_length=12)
    kind = models.CharField(max_length=15)
    status = models.CharField(max_length=20)
    outcome = models.CharField(max_length=15)
    closed_hour = models.DateTimeField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["division_code", "kind", "status", "outcome", "closed_hour"], name="rollup_kind_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["division_code"], name="rollup_kind_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.kind} {self.status} {self.outcome}: {self.n}"


class EventCount(models.Model):
    """Milestones per (county, event, hour): created, dispatched, radius_limited, traced, approved, and
    the *_ontime variants (the milestone met by its deadline). SLA compliance of a window is
    ontime / total over its hours. The hour is in UTC (whole hours also add up to local days)."""

    county = models.CharField(max_length=6)
    event = models.CharField(max_length=20)
    hour = models.DateTimeField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["county", "event", "hour"], name="rollup_event_key")]
        indexes = [models.Index(fields=["event", "hour"], name="rollup_event_hour")]

    def __str__(self) -> str:
        return f"{self.county} {self.event} {self.hour:%Y-%m-%d %H}h: {self.n}"


# The values of a report snapshot that are encrypted at rest (tasks.crypto, the same keys and envelope
# as the columns they copy), per part of the snapshot: the person's identity, name and address, each
# close contact's identity, name and place of last contact, each trajectory entry's place, address and
# companions.
SNAPSHOT_ENCRYPTED_PARTS: dict[str, tuple[str, ...]] = {
    "person": ("id_number", "phone", "name", "address"),
    "contacts": ("id_number", "phone", "name", "place"),
    "trajectory": ("place", "address", "companions"),
}


def _map_keys(item, keys, convert):
    if not isinstance(item, dict):
        return item
    return {k: convert(v) if k in keys and isinstance(v, str) else v for k, v in item.items()}


def map_snapshot(data, convert):
    """A copy of the snapshot `data` with `convert` applied to the encrypted values."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for part, keys in SNAPSHOT_ENCRYPTED_PARTS.items():
        value = out.get(part)
        if isinstance(value, dict):
            out[part] = _map_keys(value, keys, convert)
        elif isinstance(value, list):
            out[part] = [_map_keys(item, keys, convert) for item in value]
    return out


def protect_snapshot(data):
    from tasks.crypto import encrypt

    return map_snapshot(data, encrypt)


def reveal_snapshot(data):
    from tasks.crypto import decrypt

    return map_snapshot(data, decrypt)


class SnapshotField(models.JSONField):
    """The JSON of a report version, with ID numbers and phones encrypted in the database (issue 9): the
    column holds envelopes (`e1:…`, tasks/crypto.py), Python code always sees plaintext. Snapshots
    written before this field hold plaintext, which reads as is (decrypt() returns a value without the
    envelope prefix unchanged) until migration 0003 / rotate_encryption_keys re-encrypts them."""

    encrypted_at_rest = True  # tasks.crypto.is_encrypted_field: the lifecycle registry asks for a rotation

    def get_prep_value(self, value):
        return super().get_prep_value(protect_snapshot(value))

    def from_db_value(self, value, expression, connection):
        return reveal_snapshot(super().from_db_value(value, expression, connection))


class ReportVersion(models.Model):
    """One numbered version of a task's investigation report: the snapshot of everything the report
    shows, frozen when an expert approved the task (or when the data changed after approval). Rendering
    (HTML, PDF) applies the reader's masking and watermark to the snapshot; the snapshot itself is never
    changed."""

    SCOPE_PATH = "task__division__code"

    class Reason(models.TextChoices):
        APPROVAL = "approval", _("approval")
        CHANGE = "change", _("change after approval")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.PROTECT, related_name="report_versions"
    )
    number = models.PositiveIntegerField(_("version"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    review = models.ForeignKey(
        "reviews.Review", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data = SnapshotField()  # identity values encrypted at rest
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("report version")
        verbose_name_plural = _("report versions")
        ordering = ["task", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["task", "number"], name="report_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"T{self.task_id} v{self.number}"


class UpstreamDelivery(models.Model):
    """One report version to push to one upstream endpoint. Recorded in the transaction of the approval,
    sent after commit by Celery (reports/tasks.py), at least once: the upstream must treat
    (`report_id`, `version`) as idempotent."""

    SCOPE_PATH = "version__task__division__code"

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    version = models.ForeignKey(ReportVersion, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.URLField(_("endpoint"), max_length=500)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("upstream delivery")
        verbose_name_plural = _("upstream deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "endpoint"], name="delivery_once_per_endpoint")
        ]
        # resend_due_deliveries (beat): pending rows whose retry moment has come.
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_due", condition=models.Q(status="pending")
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} ({self.status})"


class DeliveryAttempt(models.Model):
    """Every HTTP attempt of a delivery, successful or not."""

    delivery = models.ForeignKey(UpstreamDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} #{self.number}"


class ExportLog(models.Model):
    """Which statistics table an account exported, with its parameters (the rows are aggregates; the
    personal-data access log in tasks records exports of task lists)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    table = models.CharField(max_length=40)
    format = models.CharField(max_length=5)
    params = models.JSONField(default=dict)
    rows = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.table}.{self.format} by {self.user_id}"


class SourceFeedback(models.Model):
    """What became of one lead, to tell the platform that sent it (SOURCE_FEEDBACK_ENDPOINTS, per
    source): recorded in sets when its task ends (tasks/worktypes.py), pushed signed by the outbox's
    `source_feedback` flow (reports/feedback.py), at least once (the receiver treats (`lead_id`, `ended_at`) as idempotent),
    retried with backoff and logged on the row like the upstream deliveries."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    # No database constraint: written in sets with the end of many tasks (a bulk close).
    lead = models.ForeignKey(
        "tasks.Lead", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    source = models.CharField(max_length=20)
    external_id = models.CharField(max_length=100, blank=True)
    task_id = models.BigIntegerField()
    kind = models.CharField(max_length=15)
    outcome = models.CharField(max_length=15)
    ended_at = models.DateTimeField()
    endpoint = models.URLField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When the source accepted it (the outbox's `sent_at`; the status says "delivered").
    sent_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("source feedback")
        verbose_name_plural = _("source feedback")
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="source_feedback_due", condition=models.Q(status="pending")
            )
        ]

    def __str__(self) -> str:
        return f"feedback on lead {self.lead_id} ({self.outcome}) to {self.source}"

    @property
    def channel(self) -> str:
        """The outbox's channel of every row of this flow (reports/feedback.py)."""
        return "webhook"
