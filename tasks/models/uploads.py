"""A large lead file's preview or import, run off the web request by a Celery job (tasks/uploads.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UploadJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        PREVIEWING = "previewing", _("reading the file")
        PREVIEWED = "previewed", _("ready to confirm")
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    # States in which a worker is on it: the page polls.
    WORKING = ("queued", "previewing", "importing")

    # The page's address and the file's name on disk: unguessable, and the job is its creator's only.
    token = models.CharField(max_length=40, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("file"), max_length=255)
    suffix = models.CharField(max_length=10)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    source = models.CharField(_("source"), max_length=20)
    # The uploader's territory when the file was uploaded (rows outside it are rejected).
    scope = models.CharField(max_length=12, blank=True, default="")
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.QUEUED)
    rows_done = models.PositiveIntegerField(_("rows read"), default=0)
    # The preview's or the import's figures and the first rejected rows, encrypted (tasks/crypto.py):
    # rejected rows quote what the file said.
    result = models.TextField(blank=True, default="")
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("upload job")
        verbose_name_plural = _("upload jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"upload {self.token[:6]} ({self.state})"
