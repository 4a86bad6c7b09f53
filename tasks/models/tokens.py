"""API credentials with a lifetime: a personal token per API login, and integration tokens for
machines (the big-data platform, the hotline system) that push leads.

The key is shown once, when it is made; the table keeps its SHA-256 only, so a copy of the database
gives no working credential. A token stops working at `expires_at`, or when revoked: personal tokens
at logout, every token of an account at a password change, a second-factor reset or deactivation
(tasks/tokens.py).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("personal (API login)")
        INTEGRATION = "integration", _("machine integration")

    key_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the key, to recognise it in a list without keeping the key.
    prefix = models.CharField(max_length=8)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PERSONAL)
    name = models.CharField(_("name"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [
            # Revocation of an account's live tokens (logout, password change).
            models.Index(
                fields=["user"], condition=models.Q(revoked_at__isnull=True), name="apitoken_live_by_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.get_kind_display()}, {self.user})"
