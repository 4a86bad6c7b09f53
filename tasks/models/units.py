"""Who works where: the county/city duty desk, the township team, the village sub-unit."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Unit(models.Model):
    class Kind(models.TextChoices):
        DUTY_DESK = "duty_desk", _("duty desk")  # county or city command center
        TEAM = "team", _("investigation team")  # one per township
        SUBUNIT = "subunit", _("sub-unit")  # one per village

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="units"
    )
    name = models.CharField(_("name"), max_length=120)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_units",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), through="UnitMembership", related_name="units"
    )

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.UniqueConstraint(fields=["division", "kind"], name="one_unit_of_each_kind_per_division"),
        ]
        indexes = [
            models.Index(fields=["division"], name="unit_division_prefix", opclasses=["varchar_pattern_ops"])
        ]

    def __str__(self) -> str:
        return self.name


class UnitMembership(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "user"], name="unit_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.unit_id}"


class DutyShift(models.Model):
    """The on-duty roster of a duty desk: who answers for the desk's queue in a time window."""

    unit = models.ForeignKey(
        Unit, verbose_name=_("duty desk"), on_delete=models.CASCADE, related_name="shifts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("officer"), on_delete=models.CASCADE, related_name="shifts"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty shifts")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["unit", "starts_at", "ends_at"], name="shift_unit_window")]

    def __str__(self) -> str:
        return f"{self.user_id} on duty in {self.unit_id}"
