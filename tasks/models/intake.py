"""Leads, the persons they resolve to, and the 10-minute intake batches that consolidate them."""

from django.conf import settings
from django.contrib.postgres.indexes import HashIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..crypto import EncryptedCharField, EncryptedTextField


def _hash_name(obj, save_kwargs: dict) -> None:
    """Keep the name's blind index in step with the name on every ORM save (the bulk paths compute it
    with the other hashes, tasks/validation.py)."""
    from ..validation import name_hash

    obj.name_hash = name_hash(obj.name or "")
    fields = save_kwargs.get("update_fields")
    if fields is not None and "name" in fields and "name_hash" not in fields:
        save_kwargs["update_fields"] = [*fields, "name_hash"]


class Source(models.TextChoices):
    BIG_DATA = "big_data", _("big-data comparison")
    RED_CODE = "red_code", _("red health code")
    YELLOW_CODE = "yellow_code", _("yellow health code")
    COMMUNITY = "community", _("community check")
    HOTLINE = "hotline", _("hotline / public tip")
    RETURNEE = "returnee", _("port-of-entry returnee")
    CLOSE_CONTACT = "close_contact", _("close contact")
    MANUAL = "manual", _("manual entry")


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("resident ID card")
    PASSPORT = "passport", _("passport")
    HK_MACAO_PERMIT = "hk_macao_permit", _("Hong Kong/Macao permit")
    TAIWAN_PERMIT = "taiwan_permit", _("Taiwan permit")
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident", _("foreigner's permanent residence ID")
    OTHER = "other", _("other document")


class CaseStatus(models.TextChoices):
    """A person's case status, set by test results (monitoring/, docs/monitoring.md); its history is kept
    by the monitoring app."""

    NONE = "none", _("no case status")
    SUSPECTED = "suspected", _("suspected case")
    CONFIRMED = "confirmed", _("confirmed case")
    ASYMPTOMATIC = "asymptomatic", _("asymptomatic infection")
    EXCLUDED = "excluded", _("excluded")


class Person(models.Model):
    """A traced person. `person_key` is what leads are matched on: a keyed hash of the resident ID
    when there is one, else of phone + normalised name, else unique to the lead that created it."""

    # Unique through a constraint rather than unique=True: that would add a second, LIKE-capable index
    # that nothing uses and every intake batch would pay for.
    person_key = models.CharField(max_length=80)
    # The type of the identity document whose number `id_number` holds (a database default: the intake
    # and bulk loaders insert persons in SQL).
    id_type = models.CharField(
        _("document type"),
        max_length=30,
        choices=IdType.choices,
        default=IdType.RESIDENT_ID,
        db_default="resident_id",
    )
    id_number = EncryptedCharField(_("document number"), max_length=30, blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True)
    name = EncryptedCharField(_("name"), max_length=50, blank=True)
    # The blind index of the name (validation.name_hash): search by exact name, duplicates. A database
    # default: the intake and bulk loaders insert persons in SQL.
    name_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    # Keyed hashes of the sound of the name (pinyin without tones) and of its first character (the
    # surname), filled by the duplicate job for open persons from the decrypted name; '' until the job
    # has seen the person. Keyed: the pinyin of a full name identifies the person as well as the name.
    name_sound_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    surname_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    # Keyed hash of the normalised name and the birth date read from the document (validation.
    # name_birth_hash), set at intake beside the other blind indexes: the duplicate job pairs persons
    # on it without decrypting the number. '' without a name or a document that carries a birth date.
    name_birth_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    # A database default: the intake inserts persons in SQL.
    case_status = models.CharField(
        _("case status"),
        max_length=15,
        choices=CaseStatus.choices,
        default=CaseStatus.NONE,
        db_default="none",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        constraints = [
            # The intake upserts persons with ON CONFLICT (person_key).
            models.UniqueConstraint(fields=["person_key"], name="person_key_unique"),
        ]
        # No index on id_number_hash or phone_hash: every intake batch inserts up to a million persons,
        # and their hashes arrive in random order (the phone index alone cost 6 to 7 s of a batch).
        # A resident ID is looked up through person_key ("id:" + id_number_hash); an SMS reply is matched
        # to the notice sent to that number (Notice.phone_hash), not to persons.

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"

    def save(self, *args, **kwargs):
        _hash_name(self, kwargs)
        super().save(*args, **kwargs)


class IntakeBatch(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        FAILED = "failed", _("failed")

    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    leads = models.PositiveIntegerField(_("leads"), default=0)
    new_tasks = models.PositiveIntegerField(_("new tasks"), default=0)
    merged = models.PositiveIntegerField(_("merged into existing tasks"), default=0)
    unresolved = models.PositiveIntegerField(_("unresolved"), default=0)
    dispatched = models.PositiveIntegerField(_("dispatched"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Not a column: seconds per step of the run that made this batch, set by run_intake for the
    # benchmarks and the log.
    step_times: dict[str, float]

    class Meta:
        verbose_name = _("intake batch")
        verbose_name_plural = _("intake batches")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.started_at:%Y-%m-%d %H:%M}"


class Lead(models.Model):
    """One signal about one person from one source. Never deleted, never silently dropped: a lead is
    either pending (a PendingLead row, written by a database trigger on every insert) or consumed (a
    LeadLink row naming the batch that took it and the task it went to), never both, never neither.

    The lead row itself is written once and never updated by the intake: linking a million wide rows
    with five index entries each was the largest cost of a batch (non-HOT updates); the narrow
    link rows cost a tenth of it."""

    SCOPE_PATH = "division__code"

    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    id_type = models.CharField(
        _("document type"),
        max_length=30,
        choices=IdType.choices,
        default=IdType.RESIDENT_ID,
        db_default="resident_id",
    )
    id_number = EncryptedCharField(_("document number"), max_length=30, blank=True)
    # A resident ID whose region (first six digits) is not a known division code: accepted (old codes
    # exist), flagged for the duty officer.
    id_region_unknown = models.BooleanField(_("ID region unknown"), default=False, db_default=False)
    id_number_hash = models.CharField(max_length=64, blank=True)
    name = EncryptedCharField(_("name"), max_length=50, blank=True)
    name_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    # Computed with the other hashes at validation; the intake copies it to the person.
    name_birth_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The most precise division the source gave (any level); the batch resolves it to a village.
    # No database constraint on division and current_division (db_constraint=False), nor on the
    # LeadLink and PendingLead rows below: a batch writes these for a million leads at once, and PostgreSQL checks a foreign key one row at a
    # time (the largest cost of a batch after the writes themselves). Validation (known division codes)
    # and the intake's set SQL (joins to existing rows) keep them consistent; Django still applies
    # on_delete; `manage.py check_integrity` (tasks/integrity.py) verifies them.
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Encrypted like the name: the intake batch decrypts (in Python) only the addresses it resolves.
    address = EncryptedTextField(_("address"), blank=True)
    # "Follow the person": where the person is now, when the source knows it; overrides the household.
    current_division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("current location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reason = models.TextField(_("reason"), blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    related_task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("related task"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contact_leads",
        db_index=False,
    )
    payload = models.JSONField(_("source fields"), default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"))
    person_key = models.CharField(max_length=80, blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="api")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            # A resend of the same row (after a timeout) is a duplicate, not a second lead.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="lead_source_external_id_unique",
            ),
        ]
        # Every index here is paid for by each lead inserted (COPY of 1,000,000 rows), so foreign keys get
        # no automatic index (db_index=False) and only these exist; partial where most rows are NULL.
        indexes = [
            # Scoped lead lists: division code LIKE 'prefix%'.
            models.Index(fields=["division"], name="lead_division_prefix", opclasses=["varchar_pattern_ops"]),
            # The close-contact leads a task found; PROTECT checks when a task is deleted.
            models.Index(
                fields=["related_task"],
                name="lead_related_task",
                condition=models.Q(related_task__isnull=False),
            ),
            # SET_NULL when an account is deleted.
            models.Index(
                fields=["created_by"], name="lead_created_by", condition=models.Q(created_by__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id or self.pk}"

    def save(self, *args, **kwargs):
        _hash_name(self, kwargs)
        super().save(*args, **kwargs)

    # The batch and task of a consumed lead, None while it is pending. Query through `link__task`,
    # `link__batch`, `pending__isnull`; select_related("link") when reading many.
    @property
    def consumption(self) -> "LeadLink | None":
        try:
            return self.link
        except LeadLink.DoesNotExist:
            return None

    @property
    def task_id(self) -> int | None:
        link = self.consumption
        return link.task_id if link else None

    @property
    def task(self):
        link = self.consumption
        return link.task if link else None

    @property
    def batch_id(self) -> int | None:
        link = self.consumption
        return link.batch_id if link else None

    @property
    def batch(self) -> "IntakeBatch | None":
        link = self.consumption
        return link.batch if link else None


class PendingLead(models.Model):
    """The intake's inbox: one row per lead no batch has consumed yet. A statement trigger on tasks_lead
    (migration 0015) inserts it for every lead inserted, by any path (COPY, ORM, SQL), so a lead cannot
    be stored without being pending; the batch deletes the rows it claims (DELETE … RETURNING: a lead
    is claimed once, by one batch) and writes their LeadLink in the same transaction. Narrow on
    purpose: a claim reads only pending leads, whatever the number of leads ever received."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="pending", db_constraint=False
    )

    class Meta:
        verbose_name = _("pending lead")
        verbose_name_plural = _("pending leads")

    def __str__(self) -> str:
        return f"pending lead {self.lead_id}"


class LeadLink(models.Model):
    """A consumed lead: the batch that took it and the task it went to (new, or an open one it was
    merged into). Written once per lead by the batch, in sets; never updated."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="link", db_constraint=False
    )
    # Null only for a lead attached to a task outside a batch (by hand: data repair, fixtures).
    batch = models.ForeignKey(
        IntakeBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lead_links",
        db_constraint=False,
    )
    task = models.ForeignKey(
        "tasks.TracingTask",
        on_delete=models.PROTECT,
        related_name="lead_links",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("lead link")
        verbose_name_plural = _("lead links")
        indexes = [
            # A task's leads are only ever looked up by equality. A batch writes a million links in lead
            # order, so their task ids arrive in random order: a B-tree took 4 of the 7.5 s of that
            # INSERT, a hash index about 1 s less (measured on a copy of a batch's links).
            HashIndex(fields=["task"], name="leadlink_task"),
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id} → task {self.task_id}"


class LeadRejection(models.Model):
    """A row a channel refused, kept with its reasons so it can be counted, shown and corrected."""

    source = models.CharField(max_length=20, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=10)
    row_index = models.PositiveIntegerField()
    errors = models.JSONField()
    row = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("rejected lead")
        verbose_name_plural = _("rejected leads")

    def __str__(self) -> str:
        return f"rejected {self.channel} row {self.row_index}"
