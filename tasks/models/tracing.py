"""The tracing task: the person-level unit of work, its state, its clocks and its history."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from ..crypto import EncryptedTextField
from .intake import Source


class TaskStatus(models.TextChoices):
    NEW = "new", _("new")
    DISPATCHED = "dispatched", _("dispatched")
    RECEIVED = "received", _("received")
    RADIUS_LIMITED = "radius_limited", _("radius limited")
    TRACED = "traced", _("trajectory traced")
    SUBMITTED = "submitted", _("submitted for review")
    RETURNED = "returned", _("returned")
    APPROVED = "approved", _("approved")
    REPORTED = "reported", _("reported")
    CLOSED = "closed", _("closed")
    TRANSFERRING = "transferring", _("transferring")
    MERGED = "merged", _("merged")
    CANCELLED = "cancelled", _("cancelled")


# A new lead for a person in one of these states is attached to that task; at most one per person.
ACTIVE_STATUSES = [
    TaskStatus.NEW,
    TaskStatus.DISPATCHED,
    TaskStatus.RECEIVED,
    TaskStatus.RADIUS_LIMITED,
    TaskStatus.TRACED,
    TaskStatus.SUBMITTED,
    TaskStatus.RETURNED,
    TaskStatus.TRANSFERRING,
]


class TaskKind(models.TextChoices):
    """The work type of a task: what the field team must do, and so which clocks run."""

    VERIFICATION = "verification", _("verification")
    INVESTIGATION = "investigation", _("investigation")
    REGISTRATION = "registration", _("registration")


# How serious a kind is: a lead triaged to a more serious kind escalates an open task of a lighter one.
KIND_RANK = {TaskKind.REGISTRATION: 1, TaskKind.VERIFICATION: 2, TaskKind.INVESTIGATION: 3}


class TaskOutcome(models.TextChoices):
    """How an ended task ended (`close`); cancel and merge leave it empty, their status says it."""

    NO_RISK = "no_risk", _("no risk")
    FALSE_HIT = "false_hit", _("false hit")
    RELEASED = "released", _("released after monitoring")
    LOST_CONTACT = "lost_contact", _("lost contact")
    MOVED_AWAY = "moved_away", _("moved out of the territory")
    DECEASED = "deceased", _("deceased")
    OTHER = "other", _("other")


# The outcomes each kind may close with.
KIND_OUTCOMES: dict[str, frozenset[str]] = {
    TaskKind.VERIFICATION: frozenset(
        {"no_risk", "false_hit", "lost_contact", "moved_away", "deceased", "other"}
    ),
    TaskKind.INVESTIGATION: frozenset(
        {"released", "no_risk", "false_hit", "lost_contact", "moved_away", "deceased", "other"}
    ),
    TaskKind.REGISTRATION: frozenset(
        {"released", "no_risk", "lost_contact", "moved_away", "deceased", "other"}
    ),
}

# Ended tasks: no clock runs, no new lead attaches; the retention period counts from `closed_at`.
ENDED_STATUSES = ("closed", "cancelled", "merged")


class Priority(models.IntegerChoices):
    """Lower is more urgent (DESIGN: close contact of a confirmed case > red code > big-data hit >
    yellow code > returnee > tip)."""

    CLOSE_CONTACT = 1, _("P1 close contact of a confirmed case")
    RED_CODE = 2, _("P2 red code")
    BIG_DATA = 3, _("P3 big-data hit")
    YELLOW_CODE = 4, _("P4 yellow code")
    RETURNEE = 5, _("P5 returnee")
    TIP = 6, _("P6 tip")


class TracingTask(models.Model):
    SCOPE_PATH = "division__code"

    # person, division, batch, team, subunit and assignee have no database constraint (db_constraint=False):
    # the intake inserts hundreds of thousands of tasks per batch and PostgreSQL checks each foreign key
    # one row at a time; the intake's SQL joins them to existing rows, Django applies on_delete, and
    # `manage.py check_integrity` (tasks/integrity.py) verifies them. See Lead for the same trade-off.
    person = models.ForeignKey(
        "tasks.Person",
        verbose_name=_("person"),
        on_delete=models.PROTECT,
        related_name="tasks",
        db_constraint=False,
    )
    status = models.CharField(_("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.NEW)
    kind = models.CharField(
        _("work type"),
        max_length=15,
        choices=TaskKind.choices,
        default=TaskKind.INVESTIGATION,
        db_default=TaskKind.INVESTIGATION,
    )
    outcome = models.CharField(
        _("outcome"), max_length=15, choices=TaskOutcome.choices, blank=True, default="", db_default=""
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    # The responsible jurisdiction: a village once resolved, else the most precise division known.
    # db_index=False on division, batch and assignee: the named indexes below serve them (task_division_prefix,
    # task_batch, task_assignee_status); a duplicate index costs every write of this hot table (dispatch, sweep).
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        on_delete=models.PROTECT,
        related_name="tasks",
        db_index=False,
        db_constraint=False,
    )
    unresolved_reason = models.TextField(_("why the village is unresolved"), blank=True)
    address = EncryptedTextField(_("address"), blank=True)
    batch = models.ForeignKey(
        "tasks.IntakeBatch",
        verbose_name=_("intake batch"),
        on_delete=models.PROTECT,
        related_name="tasks",
        db_index=False,
        db_constraint=False,
    )
    # Partial index task_source_task below (most tasks have none): not the automatic full one.
    # No database constraint on source_task and merged_into either: PostgreSQL queues a deferred check
    # per inserted row even when the value is NULL, as it is for nearly every task of a batch.
    source_task = models.ForeignKey(
        "self",
        verbose_name=_("found by task"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contact_tasks",
        db_index=False,
        db_constraint=False,
    )
    generation = models.PositiveSmallIntegerField(_("generation"), default=0)
    # No index: never looked up by these; every index costs each bulk insert and dispatch update.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    team = models.ForeignKey(
        "tasks.Unit",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Partial index task_open_subunit below: nothing looks up ended tasks by sub-unit.
    subunit = models.ForeignKey(
        "tasks.Unit",
        verbose_name=_("sub-unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tasks",
        db_index=False,
        db_constraint=False,
    )

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    # Clocks (DESIGN: dispatch within 30 min of the batch, radius in 3 h and trajectory in 10 h of
    # dispatch). Each *_due is set by the service that starts the clock; *_at when the milestone is met.
    dispatch_due = models.DateTimeField(_("dispatch due"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    radius_due = models.DateTimeField(_("radius due"), null=True, blank=True)
    radius_limited_at = models.DateTimeField(_("radius limited at"), null=True, blank=True)
    trace_due = models.DateTimeField(_("trace due"), null=True, blank=True)
    traced_at = models.DateTimeField(_("traced at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    # Rework clock: started when an expert returns the task (REVIEW_RETURN_WINDOW_MINUTES), stopped by
    # the resubmission; a later return starts a new round with a new deadline.
    rework_due = models.DateTimeField(_("rework due"), null=True, blank=True)
    rework_done_at = models.DateTimeField(_("resubmitted at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    # The clocks of the lighter kinds (tasks/clocks.py): started by dispatch (or by a change of kind),
    # stopped by the sub-unit's verification outcome / the registration.
    verify_due = models.DateTimeField(_("verification due"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    register_due = models.DateTimeField(_("registration due"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    # The sub-unit's verification answer: here / not_found / moved_away / false_hit, and its risk judgement.
    verification_found = models.CharField(max_length=12, blank=True, default="", db_default="")
    verification_risk = models.BooleanField(null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The earliest moment the deadline sweep must look at this task again (next warning or breach of
    # any running clock); NULL when no clock runs. The sweep reads only rows whose moment has come.
    next_alert_at = models.DateTimeField(null=True, blank=True)
    # Which escalations the sweep has already recorded, as bits (tasks/clocks.py ALERT_BITS: dispatch
    # warning 1, breach 2; radius 4, 8; trace 16, 32), so next_alert_at can be computed from the row alone.
    clock_alerts = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Optimistic concurrency for edits from phones that were offline.
    version = models.PositiveIntegerField(default=1)
    # The leads behind the task, through the rows the intake batch writes when it consumes them.
    leads = models.ManyToManyField("tasks.Lead", through="tasks.LeadLink", related_name="+", blank=True)
    # Security (issue 9): a task on legal hold keeps its person's data past the retention period.
    legal_hold = models.BooleanField(_("legal hold"), default=False, db_default=False)
    legal_hold_reason = models.TextField(_("legal hold reason"), blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("tracing task")
        verbose_name_plural = _("tracing tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="one_active_task_per_person",
            ),
        ]
        indexes = [
            models.Index(fields=["division"], name="task_division_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["batch"], name="task_batch"),
            # Open tasks only (as one_active_task_per_person), like task_open_subunit: an ended task
            # is not looked up by these, and ending one (a bulk close of 100,000) then writes no entry.
            models.Index(
                fields=["status", "priority"],
                name="task_open_status_priority",
                condition=models.Q(status__in=ACTIVE_STATUSES),
            ),
            models.Index(
                fields=["subunit"],
                name="task_open_subunit",
                condition=models.Q(status__in=ACTIVE_STATUSES, subunit__isnull=False),
            ),
            # A member's tasks, and their open load counted from the index alone (dispatch's least-load
            # choice counts every member's open tasks: without status here, one heap visit per task).
            models.Index(
                fields=["assignee", "status"],
                name="task_assignee_status",
                condition=models.Q(assignee__isnull=False),
            ),
            # The contact tasks a task found (chain graph, PROTECT on delete).
            models.Index(
                fields=["source_task"], name="task_source_task", condition=models.Q(source_task__isnull=False)
            ),
            # sweep_deadlines: only tasks with a running clock are in this index.
            models.Index(
                fields=["next_alert_at"],
                name="task_next_alert_due",
                condition=models.Q(next_alert_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"T{self.pk}"

    @property
    def is_unresolved(self) -> bool:
        return len(self.division_id or "") < 12


class TriageRule(models.Model):
    """One row of the intake's triage table: leads of `source` (any when blank) and `priority` (any when
    null) become tasks of `kind`. The first matching rule by `position` decides a lead's kind; a person's
    task takes the most serious kind of their leads; a lead no rule matches is an investigation."""

    position = models.PositiveSmallIntegerField(_("position"), default=100)
    source = models.CharField(_("source"), max_length=20, blank=True, default="", choices=Source.choices)
    priority = models.PositiveSmallIntegerField(
        _("priority"), null=True, blank=True, choices=Priority.choices
    )
    kind = models.CharField(_("work type"), max_length=15, choices=TaskKind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("triage rule")
        verbose_name_plural = _("triage rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.source or '*'}/{self.priority or '*'} → {self.kind}"


# The default triage table (seeded by migration 0021; used as is while the table is empty):
# (position, source, priority, kind, note).
DEFAULT_TRIAGE_RULES: tuple[tuple[int, str, int | None, str, str], ...] = (
    (10, "", 1, "investigation", "anything at P1: a close contact of a confirmed case, a positive result"),
    (20, "", 2, "investigation", "anything at P2: a red code"),
    (30, "close_contact", None, "investigation", "close contact"),
    (40, "red_code", None, "investigation", "red code"),
    (50, "big_data", None, "verification", "big-data hit"),
    (60, "yellow_code", None, "verification", "yellow code"),
    (70, "community", None, "verification", "community check"),
    (80, "hotline", None, "verification", "hotline / public tip"),
    (90, "manual", None, "verification", "manual entry"),
    (100, "returnee", None, "registration", "port-of-entry returnee"),
)


class TaskTransition(models.Model):
    """One row per state change: who, when, from, to, why."""

    # transition_task_at (task, at) serves lookups by task: no second index on the foreign key.
    # No database constraint (the intake writes one row per new task; see TracingTask.person).
    task = models.ForeignKey(
        TracingTask, on_delete=models.CASCADE, related_name="transitions", db_index=False, db_constraint=False
    )
    from_status = models.CharField(max_length=20, choices=TaskStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=TaskStatus.choices)
    # NULL for the system's own transitions (a million per intake batch): no database constraint (a
    # deferred check is queued per row, NULL or not) and a partial index (PROTECT's look-up when an
    # account is deleted) that those rows stay out of.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["task", "at"], name="transition_task_at"),
            models.Index(fields=["actor"], name="transition_actor", condition=models.Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.from_status or '-'} → {self.to_status}"


# Direct foreign keys for django-guardian's per-object exceptions ("share this task with that
# expert"): the visibility selector joins them instead of guardian's generic text object_pk.
class TracingTaskUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(TracingTask, on_delete=models.CASCADE)


class TracingTaskGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(TracingTask, on_delete=models.CASCADE)
