"""The personal data of reports, declared to the lifecycle registry of the base app (tasks/lifecycle.py,
docs/lifecycle.md); registered from ReportsConfig.ready().

A report version is a frozen snapshot of a task's investigation: the person's identity, the close
contacts, the trajectory and the radius controls, as JSON. The purge blanks the personal values inside
it and keeps the shape (the division, the contacts' relation, the trajectory's places and times), so
the report history and the statistics still read; key rotation re-encrypts its ID numbers and phones.
"""

from __future__ import annotations

from django.db import models

from tasks import lifecycle
from tasks.crypto import Log, current_key, rotate_json

from .models import ExportLog, ReportVersion, map_snapshot


def _scrub_array(key: str, blank: str) -> str:
    """SQL: the snapshot's array `key` with every element's personal keys replaced by `blank` (order kept)."""
    return (
        f"COALESCE((SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object' THEN e || '{blank}'::jsonb ELSE e END ORDER BY n) "
        f"FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'{key}') = 'array' THEN data->'{key}' ELSE '[]'::jsonb END) "
        f"WITH ORDINALITY AS a(e, n)), '[]'::jsonb)"
    )


SNAPSHOT_SCRUB = (
    "data"
    " || jsonb_build_object('person', COALESCE(data->'person', '{}'::jsonb)"
    """ || '{"name": "", "id_number": "", "phone": "", "address": ""}'::jsonb)"""
    f""" || jsonb_build_object('contacts', {_scrub_array("contacts", '{"name": "", "id_number": "", "phone": "", "place": ""}')})"""
    f""" || jsonb_build_object('trajectory', {_scrub_array("trajectory", '{"address": "", "companions": "", "activity": ""}')})"""
    f""" || jsonb_build_object('radius', {_scrub_array("radius", '{"site": "", "note": ""}')})"""
)


def rotate_report_snapshots(
    model: type[models.Model] = ReportVersion, *, batch_size: int = 1000, log: Log | None = None
) -> int:
    """Re-encrypt with the current key the identity values inside report snapshots (SnapshotField):
    values of older keys and plaintext of snapshots stored before the field encrypted."""
    return rotate_json(
        model,
        "data",
        lambda data: map_snapshot(data, current_key),
        batch_size=batch_size,
        log=log,
        noun="snapshots",
    )


def register() -> None:
    lifecycle.register(
        ReportVersion,
        where="task_id IN ({tasks})",
        clear={"data": SNAPSHOT_SCRUB},
        counter="report_versions",
        reencrypt=rotate_report_snapshots,
        keep={"reason": "why the version was made (approval or change): a choice, not free text"},
    )
    lifecycle.register(
        ExportLog,
        exempt="the filters of a statistics export (divisions, dates, batches): no person is exported "
        "through it (reports/views.py)",
    )
