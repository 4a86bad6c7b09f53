"""Accounts: one person, one account, one role, one territorial scope."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DUTY_OFFICER = "duty_officer", _("duty officer")
    TEAM_LEADER = "team_leader", _("team leader")
    FIELD_STAFF = "field_staff", _("field staff")
    CDC_EXPERT = "cdc_expert", _("CDC expert")
    COMMANDER = "commander", _("commander")
    AUDITOR = "auditor", _("auditor")
    ADMIN = "admin", _("administrator")


class User(AbstractUser):
    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    # The root of the subtree this account sees and acts in; outside it, records do not exist for it.
    division = models.ForeignKey(
        "tasks.Division",
        verbose_name=_("scope"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    phone = models.CharField(_("work phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            # Only a superuser (the deployment's own operator) may exist without a territorial scope.
            models.CheckConstraint(
                condition=models.Q(is_superuser=True)
                | (models.Q(division__isnull=False) & ~models.Q(role="")),
                name="account_has_role_and_scope",
            ),
            # One person, one account (issue 9): two active accounts never share a work phone.
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(is_active=True) & ~models.Q(phone=""),
                name="one_active_account_per_work_phone",
                violation_error_message=_("another active account already has this work phone"),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class ActivationCode(models.Model):
    """A one-time code an administrator hands to a new account's owner; stored only as a hash."""

    class Purpose(models.TextChoices):
        # Sets the password of a new, inactive account.
        ACTIVATION = "activation", _("activation")
        # Lets an account of a two-factor role enrol its authenticator (first time, or after a reset):
        # the password alone never does.
        ENROLMENT = "enrolment", _("second-factor enrolment")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activation_codes")
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.ACTIVATION)
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("activation code")
        verbose_name_plural = _("activation codes")

    def __str__(self) -> str:
        return f"activation code of {self.user_id}"
