"""Retention runs: one row per run of the purge of personal data (tasks/retention.py, issue 9)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PurgeRun(models.Model):
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Tasks that ended before this moment were old enough (now - RETENTION_DAYS).
    cutoff = models.DateTimeField(_("cut-off"))
    retention_days = models.PositiveIntegerField(_("retention days"))
    dry_run = models.BooleanField(_("dry run"), default=False)
    persons = models.PositiveIntegerField(_("persons anonymised"), default=0)
    leads = models.PositiveIntegerField(_("leads anonymised"), default=0)
    tasks = models.PositiveIntegerField(_("tasks anonymised"), default=0)
    log_entries = models.PositiveIntegerField(_("change-history entries scrubbed"), default=0)
    field_records = models.PositiveIntegerField(_("field records anonymised"), default=0)
    report_versions = models.PositiveIntegerField(_("report versions anonymised"), default=0)
    notices = models.PositiveIntegerField(_("notices and feedback anonymised"), default=0, db_default=0)
    rejections = models.PositiveIntegerField(_("rejected intake rows deleted"), default=0)
    held = models.PositiveIntegerField(_("persons kept by a legal hold"), default=0)
    # Rows (or files) changed per lifecycle registration (tasks/lifecycle.py): the columns above sum them.
    counts = models.JSONField(_("counts per kind of data"), default=dict, db_default={}, blank=True)
    triggered_by = models.CharField(_("triggered by"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("purge run")
        verbose_name_plural = _("purge runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.persons}"
