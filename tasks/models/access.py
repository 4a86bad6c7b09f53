"""The access log: who read whose personal data, when, how and from where (issue 9).

django-auditlog keeps the change history (who changed what); this table keeps the reads: a detail page,
an API detail, an export, a report, a "reveal" of a masked field. Written only through
tasks/access_log.record_access, in sets (one INSERT for an export of many people), and append-only: a
database trigger refuses UPDATE and DELETE (see the migration), so an entry cannot be quietly removed.
It holds ids, never the personal data itself.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccessAction(models.TextChoices):
    VIEW = "view", _("viewed")
    EXPORT = "export", _("exported")
    REPORT = "report", _("included in a report")
    REVEAL = "reveal", _("revealed masked fields")


class AccessLog(models.Model):
    # Scope of an entry for auditors: the object's division (where the data belongs) or the actor's
    # (who in the auditor's territory looked); see selectors in tasks/access_log.py.
    SCOPE_PATH = "division_code"

    at = models.DateTimeField(_("when"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("who"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    # Snapshots: the account's name and scope at the time, kept if the account is later changed.
    username = models.CharField(_("account"), max_length=150)
    actor_division_code = models.CharField(max_length=12, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=AccessAction.choices)
    object_type = models.CharField(_("object type"), max_length=30)  # "task", "person", "lead", ...
    object_id = models.CharField(_("object id"), max_length=64)
    person_id = models.BigIntegerField(_("person id"), null=True, blank=True)
    task_id = models.BigIntegerField(_("task id"), null=True, blank=True)
    division_code = models.CharField(_("division"), max_length=12, blank=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    path = models.CharField(_("page"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [
            # Audit search: a person's history, a task's history, an account's history, the newest first.
            models.Index(
                fields=["person_id", "at"],
                name="accesslog_person_at",
                condition=models.Q(person_id__isnull=False),
            ),
            models.Index(
                fields=["task_id", "at"], name="accesslog_task_at", condition=models.Q(task_id__isnull=False)
            ),
            models.Index(fields=["user", "at"], name="accesslog_user_at"),
            models.Index(fields=["at"], name="accesslog_at"),
            models.Index(
                fields=["division_code"], name="accesslog_division_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["actor_division_code"],
                name="accesslog_actor_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.object_type}:{self.object_id}"
