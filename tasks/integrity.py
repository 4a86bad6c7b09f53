"""The links that have no database foreign-key constraint, checked in sets.

The bulk write path (the intake batch: leads, tasks, their history) declares its hottest links with
`db_constraint=False`, because PostgreSQL checks a foreign key one row at a time and a batch writes
millions of links. Those links are written by set SQL that joins existing rows, and Django still applies
`on_delete`; this module verifies that nothing points nowhere, one anti-join per link
(`manage.py check_integrity`, and the nightly beat job `tasks.check_integrity`, which logs an error when
anything is found). Read-only: safe to run at any time, twice at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.db.models import ForeignKey

logger = logging.getLogger(__name__)

SAMPLE = 10


@dataclass
class Orphans:
    link: str  # "app_label.Model.field"
    count: int
    sample: list  # a few ids of the rows that point nowhere


def unconstrained_links() -> list:
    """Every foreign key of the project's models declared without a database constraint."""
    links = []
    for model in apps.get_app_config("tasks").get_models():
        for field in model._meta.concrete_fields:
            # One-to-one fields too. django-stubs does not declare ForeignKey.db_constraint.
            if isinstance(field, ForeignKey) and not field.db_constraint:  # type: ignore[attr-defined]
                links.append((model, field))
    return links


def _checks():
    """(label, SQL giving the count and a sample of ids) for every unconstrained link, then the lead states."""
    for model, field in unconstrained_links():
        child, parent = model._meta.db_table, field.related_model._meta.db_table
        pk, column, target_column = model._meta.pk.column, field.column, field.target_field.column
        yield (
            f"{model._meta.label}.{field.name}",
            (
                f'SELECT count(*), (array_agg(c."{pk}" ORDER BY c."{pk}"))[1:%s] '
                f'FROM "{child}" c WHERE c."{column}" IS NOT NULL '
                f'AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{target_column}" = c."{column}")'
            ),
        )
    yield from _LEAD_STATES.items()


# A lead is pending or consumed: exactly one of its PendingLead and LeadLink rows exists (tasks/models/intake.py).
_LEAD_STATES = {
    "tasks.Lead: neither pending nor linked": """
        SELECT count(*), (array_agg(l.id ORDER BY l.id))[1:%s] FROM tasks_lead l
        WHERE NOT EXISTS (SELECT 1 FROM tasks_pendinglead p WHERE p.lead_id = l.id)
          AND NOT EXISTS (SELECT 1 FROM tasks_leadlink k WHERE k.lead_id = l.id)""",
    "tasks.Lead: both pending and linked": """
        SELECT count(*), (array_agg(p.lead_id ORDER BY p.lead_id))[1:%s] FROM tasks_pendinglead p
        JOIN tasks_leadlink k ON k.lead_id = p.lead_id""",
}


def find_orphans() -> list[Orphans]:
    """One row per unconstrained link whose value names no existing row, and per broken lead state
    (count and sample)."""
    found = []
    with connection.cursor() as cursor:
        for label, sql in _checks():
            cursor.execute(sql, [SAMPLE])
            count, sample = cursor.fetchone()
            if count:
                found.append(Orphans(label, count, list(sample or [])))
    return found


def check_integrity() -> list[Orphans]:
    """find_orphans(), logged: an error per broken link (the periodic job's alarm), else one info line."""
    found = find_orphans()
    for orphans in found:
        logger.error(
            "integrity: %s rows of %s point to no row (e.g. ids %s)",
            orphans.count,
            orphans.link,
            orphans.sample,
        )
    if not found:
        logger.info("integrity: all %s unconstrained links resolve", len(unconstrained_links()))
    return found
