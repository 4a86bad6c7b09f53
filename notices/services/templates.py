"""Edits of the notice templates (administrators only); the reads are in notices/selectors.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notices.models import (
    NoticeCategory,
    NoticeTemplate,
)
from notices.permissions import can_edit_templates

if TYPE_CHECKING:
    from tasks.models import User


@transaction.atomic
def template_save(
    *, actor: User, category: str, title: str, body: str, urgent: bool, now: datetime | None = None
) -> NoticeTemplate:
    if not can_edit_templates(actor):
        raise PermissionDenied(_("Only an administrator edits notice templates."))
    if category not in NoticeCategory.values:
        raise ValidationError({"category": _("Unknown category.")})
    row = NoticeTemplate.objects.filter(category=category).first() or NoticeTemplate(category=category)
    row.title, row.body, row.urgent = title, body, urgent
    row.updated_at, row.updated_by = now or timezone.now(), actor
    row.full_clean()
    row.save()
    return row
