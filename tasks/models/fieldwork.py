"""Field records of a tracing task (issue 5): what the village sub-unit found on the ground.

Every row carries the client's `idempotency_key` (a UUID made on the phone when the form was filled),
unique per model: a phone that lost its connection after sending re-sends the same key, and the
service returns the row already stored instead of creating a second one. Rows are written only through
tasks/fieldwork.py, which checks the task's state and version first.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..crypto import EncryptedCharField, EncryptedTextField


class FieldRecord(models.Model):
    SCOPE_PATH = "task__division__code"

    idempotency_key = models.UUIDField(_("idempotency key"), unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        abstract = True


def _coordinates_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(latitude__isnull=True, longitude__isnull=True)
            | Q(latitude__isnull=False, longitude__isnull=False),
            name=f"{prefix}_lat_lon_together",
        ),
        models.CheckConstraint(
            condition=Q(latitude__isnull=True)
            | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
            name=f"{prefix}_lat_lon_range",
        ),
    ]


class ContactAttempt(FieldRecord):
    class Method(models.TextChoices):
        PHONE = "phone", _("phone call")
        VISIT = "visit", _("home visit")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="contact_attempts"
    )
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    reached = models.BooleanField(_("person reached"))
    attempted_at = models.DateTimeField(_("time of the attempt"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["attempted_at", "id"]
        indexes = [models.Index(fields=["task", "attempted_at"], name="attempt_task")]

    def __str__(self) -> str:
        return f"contact attempt {self.pk} of task {self.task_id}"


class RadiusControl(FieldRecord):
    """Where the person is now and how their activity radius is limited (the 3-hour milestone)."""

    class Measure(models.TextChoices):
        HOME_ISOLATION = "home_isolation", _("home isolation")
        CENTRALISED_QUARANTINE = "centralised_quarantine", _("centralised quarantine")
        HOSPITAL = "hospital", _("in hospital")
        NOT_REACHED = "not_reached", _("not reached")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="radius_controls"
    )
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("current division"), on_delete=models.PROTECT, related_name="+"
    )
    address = EncryptedTextField(_("current address"), blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    location_accuracy_m = models.PositiveIntegerField(_("location accuracy (m)"), null=True, blank=True)
    measure = models.CharField(_("control measure"), max_length=30, choices=Measure.choices)
    quarantine_site = models.CharField(_("quarantine site"), max_length=200, blank=True)
    controlled_at = models.DateTimeField(_("time"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("radius control")
        verbose_name_plural = _("radius controls")
        ordering = ["controlled_at", "id"]
        indexes = [models.Index(fields=["task", "controlled_at"], name="radius_task")]
        constraints = [
            *_coordinates_constraints("radius"),
            models.CheckConstraint(
                condition=~Q(measure="centralised_quarantine") | ~Q(quarantine_site=""),
                name="radius_quarantine_has_site",
            ),
        ]

    def __str__(self) -> str:
        return f"radius control {self.pk} of task {self.task_id}"

    @property
    def limits_radius(self) -> bool:
        return self.measure != self.Measure.NOT_REACHED


class TrajectoryEntry(FieldRecord):
    """One timed place of the person's trajectory. Deleting before submission is a soft delete (the
    row keeps its idempotency key, so a late resend of its creation does not bring it back)."""

    class Transport(models.TextChoices):
        NONE = "none", _("none / stayed")
        WALK = "walk", _("on foot")
        BICYCLE = "bicycle", _("bicycle / e-bike")
        PRIVATE_CAR = "private_car", _("private car")
        TAXI = "taxi", _("taxi / ride-hailing")
        BUS = "bus", _("bus")
        METRO = "metro", _("metro")
        TRAIN = "train", _("train")
        FLIGHT = "flight", _("flight")
        SHIP = "ship", _("ship / ferry")
        OTHER = "other", _("other")

    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        on_delete=models.CASCADE,
        related_name="trajectory_entries",
    )
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"))
    place_name = EncryptedCharField(_("place"), max_length=200)
    address = EncryptedTextField(_("address"), blank=True)
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    activity = models.TextField(_("activity"), blank=True)
    transport = models.CharField(
        _("means of transport"), max_length=20, choices=Transport.choices, default=Transport.NONE
    )
    vehicle_number = models.CharField(_("vehicle / flight / train number"), max_length=50, blank=True)
    seat = models.CharField(_("seat"), max_length=30, blank=True)
    companions = EncryptedTextField(_("companions"), blank=True)
    # Edits: each changes `revision`; an edit made from an older revision is a conflict. The key of
    # the last edit makes a resent edit a no-op instead of a conflict with itself.
    revision = models.PositiveIntegerField(default=1)
    last_edit_key = models.UUIDField(null=True, blank=True, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("trajectory entry")
        verbose_name_plural = _("trajectory entries")
        ordering = ["started_at", "ended_at", "id"]
        indexes = [
            # The timeline of a task: live entries only.
            models.Index(
                fields=["task", "started_at"],
                name="trajectory_task_live",
                condition=Q(deleted_at__isnull=True),
            ),
        ]
        constraints = [
            *_coordinates_constraints("trajectory"),
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")), name="trajectory_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"trajectory entry {self.pk} of task {self.task_id}"


class CloseContact(FieldRecord):
    """A close contact found by the task. Recording it creates a Lead (source close_contact, related
    to this task) that the next intake batch turns into a task of the next generation."""

    class Relation(models.TextChoices):
        FAMILY = "family", _("family / lives together")
        COLLEAGUE = "colleague", _("colleague")
        FRIEND = "friend", _("friend")
        CLASSMATE = "classmate", _("classmate")
        SAME_VEHICLE = "same_vehicle", _("same vehicle")
        SAME_PLACE = "same_place", _("same place")
        MEDICAL = "medical", _("medical contact")
        OTHER = "other", _("other")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="close_contacts"
    )
    name = EncryptedCharField(_("name"), max_length=50, blank=True)
    id_number = EncryptedCharField(_("document number"), max_length=30, blank=True)
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    last_contact_at = models.DateTimeField(_("last contact"))
    last_contact_place = EncryptedCharField(_("place of last contact"), max_length=200, blank=True)
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    address = EncryptedTextField(_("address"), blank=True)
    lead = models.OneToOneField(
        "tasks.Lead",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="close_contact",
    )

    class Meta:
        verbose_name = _("close contact")
        verbose_name_plural = _("close contacts")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="close_contact_task")]

    def __str__(self) -> str:
        return f"close contact {self.pk} of task {self.task_id}"


class TestResult(FieldRecord):
    class Type(models.TextChoices):
        NUCLEIC_ACID = "nucleic_acid", _("nucleic acid")
        ANTIGEN = "antigen", _("antigen")
        ANTIBODY = "antibody", _("antibody")

    class Result(models.TextChoices):
        POSITIVE = "positive", _("positive")
        NEGATIVE = "negative", _("negative")
        PENDING = "pending", _("pending")

    __test__ = False  # not a pytest class

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="test_results"
    )
    sampled_at = models.DateTimeField(_("sample time"))
    test_type = models.CharField(_("test type"), max_length=20, choices=Type.choices)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    lab = models.CharField(_("laboratory"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("test result")
        verbose_name_plural = _("test results")
        ordering = ["sampled_at", "id"]
        indexes = [models.Index(fields=["task", "sampled_at"], name="test_result_task")]

    def __str__(self) -> str:
        return f"test result {self.pk} of task {self.task_id}"


class Registration(FieldRecord):
    """The returnee's registration (登记) by the sub-unit: when and from where they arrived, where they
    stay, how they are, whether their phone answered. The first one completes the task's registration
    (`registered_at`, the register clock stops) and starts health monitoring (tasks/hooks.py
    registration_completed)."""

    class HealthState(models.TextChoices):
        NO_SYMPTOMS = "no_symptoms", _("no symptoms")
        FEVER = "fever", _("fever")
        OTHER_SYMPTOMS = "other_symptoms", _("other symptoms (cough, sore throat …)")

    task = models.ForeignKey(
        "tasks.TracingTask", verbose_name=_("task"), on_delete=models.CASCADE, related_name="registrations"
    )
    arrived_at = models.DateTimeField(_("arrived at"))
    arrived_from = models.CharField(_("arrived from"), max_length=200)
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("division of stay"), on_delete=models.PROTECT, related_name="+"
    )
    address = EncryptedTextField(_("address of stay"), blank=True)
    health_state = models.CharField(_("health state"), max_length=20, choices=HealthState.choices)
    phone_confirmed = models.BooleanField(_("phone number confirmed"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="registration_task")]

    def __str__(self) -> str:
        return f"registration {self.pk} of task {self.task_id}"
