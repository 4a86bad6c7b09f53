"""Reading lead files (CSV, XLSX) and writing validated leads in bulk.

Writes go through COPY into a temporary staging table and one
`INSERT … SELECT … ON CONFLICT (source, external_id) DO NOTHING` into tasks_lead: a row already received
with the same (source, external_id) — in an earlier request or earlier in the same one — is counted as a
duplicate, not stored twice, so a client may resend safely after a timeout. Rejected rows are stored as
LeadRejection rows, also by COPY: nothing is silently dropped.

Resident ID numbers and phones are encrypted here, in Python, before COPY (tasks/crypto.py): PostgreSQL
never sees their plaintext, and the rejected rows keep them encrypted too (crypto.protect_row).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from .crypto import keyring, protect_row
from .validation import LEAD_FIELDS, CleanLead, LeadValidator, Rejection

MAX_API_ROWS = 10_000
DEFAULT_CHUNK = 50_000

STAGING_COLUMNS = (
    "ord", "source", "external_id", "id_number", "id_number_hash", "name", "phone", "phone_hash", "division_id",
    "current_division_id", "address", "reason", "reported_at", "related_task_id", "payload", "priority", "person_key",
)
_STAGING_DDL = """
CREATE TEMP TABLE lead_staging (
    ord integer, source text, external_id text, id_number text, id_number_hash text, name text, phone text,
    phone_hash text, division_id text, current_division_id text, address text, reason text,
    reported_at timestamptz, related_task_id bigint, payload text, priority smallint, person_key text
) ON COMMIT DROP
"""
_INSERT = """
INSERT INTO tasks_lead (source, external_id, id_number, id_number_hash, name, phone, phone_hash, division_id,
    current_division_id, address, reason, reported_at, received_at, related_task_id, payload, priority,
    person_key, channel, created_by_id)
SELECT source, external_id, id_number, id_number_hash, name, phone, phone_hash, division_id,
    current_division_id, address, reason, reported_at, %(received_at)s, related_task_id, payload::jsonb, priority,
    person_key, %(channel)s, %(created_by)s
FROM lead_staging ORDER BY ord
ON CONFLICT (source, external_id) WHERE NOT (external_id = '') DO NOTHING
"""


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)

    def as_response(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_response() for r in self.rejected],
        }


def insert_leads(leads: list[CleanLead], *, channel: str, created_by_id: int | None, received_at: datetime) -> int:
    """Insert validated leads; return how many were new (the rest were duplicates). Call inside a transaction."""
    if not leads:
        return 0
    # One AES-GCM call per non-empty value (~2 µs); empty values stay '' (crypto.encrypt's rule, inlined).
    encrypt = keyring().encrypt
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lead_staging")
        cursor.execute(_STAGING_DDL)
        with cursor.copy(f"COPY lead_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
            for lead in leads:
                copy.write_row(
                    (
                        lead.index, lead.source, lead.external_id, encrypt(lead.id_number) if lead.id_number else "",
                        lead.id_number_hash, lead.name, encrypt(lead.phone) if lead.phone else "", lead.phone_hash,
                        lead.division_id, lead.current_division_id, lead.address,
                        lead.reason, lead.reported_at, lead.related_task_id,
                        json.dumps(lead.payload, ensure_ascii=False, default=str), lead.priority, lead.person_key,
                    )
                )
        cursor.execute(_INSERT, {"received_at": received_at, "channel": channel, "created_by": created_by_id})
        accepted = cursor.rowcount
        cursor.execute("DROP TABLE lead_staging")
    return accepted


def _storable(value: Any) -> Any:
    """`value` with NUL characters replaced by U+FFFD: PostgreSQL text and jsonb cannot hold U+0000, and a
    rejected row is stored as it came (a NUL in it is one of the reasons it was rejected)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


def save_rejections(rejections: list[Rejection], *, channel: str, created_by_id: int | None, received_at: datetime) -> None:
    if not rejections:
        return
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY tasks_leadrejection (source, external_id, channel, row_index, errors, row, received_at, created_by_id) FROM STDIN"
        ) as copy:
            for r in rejections:
                copy.write_row(
                    (
                        _storable(str(r.source or ""))[:20], _storable(str(r.external_id or ""))[:100], channel, r.index,
                        json.dumps(_storable(r.errors), ensure_ascii=False),
                        json.dumps(_storable(protect_row(r.row)), ensure_ascii=False, default=str),
                        received_at, created_by_id,
                    )
                )


def ingest_rows(
    rows: list[Any],
    *,
    channel: str,
    created_by_id: int | None = None,
    default_source: str | None = None,
    validator: LeadValidator | None = None,
    start_index: int = 0,
) -> IngestResult:
    """Validate and store one chunk of rows in one transaction: valid rows become leads (or duplicates),
    invalid rows become LeadRejection rows."""
    validator = validator or LeadValidator(default_source=default_source)
    clean, rejected = validator.validate(rows, start_index=start_index)
    received_at = timezone.now()
    with transaction.atomic():
        accepted = insert_leads(clean, channel=channel, created_by_id=created_by_id, received_at=received_at)
        save_rejections(rejected, channel=channel, created_by_id=created_by_id, received_at=received_at)
    return IngestResult(accepted=accepted, duplicates=len(clean) - accepted, rejected=rejected)


# --- files -----------------------------------------------------------------------------------------------

class LeadFileError(Exception):
    """A file that cannot be read at all (wrong format, no header)."""


def _row_from(header: list[str], values: list[Any]) -> dict[str, Any]:
    """A file row as a lead dict: known columns are fields; other non-empty columns go into payload."""
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in zip(header, values):
        if value is None or value == "":
            continue
        if name in LEAD_FIELDS:
            row[name] = value
        elif name:
            extra[name] = value.isoformat() if isinstance(value, datetime) else value
    if extra:
        payload = row.get("payload")
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                payload = None
        if payload is None or isinstance(payload, dict):
            row["payload"] = {**extra, **(payload or {})}
    return row


def _clean_header(raw: Iterable[Any]) -> list[str]:
    header = [str(h or "").strip().lstrip("\ufeff").lower() for h in raw]
    if not any(h in LEAD_FIELDS for h in header):
        raise LeadFileError(f"the first row must name the columns ({', '.join(LEAD_FIELDS)}); found {', '.join(header)[:200]}")
    return header


def iter_csv(handle: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(handle)
    try:
        header = _clean_header(next(reader))
    except StopIteration:
        raise LeadFileError("the file is empty") from None
    for line, values in enumerate(reader, start=2):
        if not any(values):
            continue
        yield line, _row_from(header, values)


def iter_xlsx(handle: IO[bytes] | Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise LeadFileError(f"not a readable XLSX workbook: {exc}") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        try:
            header = _clean_header(next(rows))
        except StopIteration:
            raise LeadFileError("the sheet is empty") from None
        for line, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            yield line, _row_from(header, [v.strip() if isinstance(v, str) else v for v in values])
    finally:
        workbook.close()


def iter_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".xlsx":
        yield from iter_xlsx(path)
    elif path.suffix.lower() in {".csv", ".txt"}:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            yield from iter_csv(handle)
    else:
        raise LeadFileError(f"{path.name}: only .csv and .xlsx files are read")


def iter_upload(name: str, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    if name.lower().endswith(".xlsx"):
        yield from iter_xlsx(io.BytesIO(data))
    elif name.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise LeadFileError("the CSV file is neither UTF-8 nor GB18030 text") from None
        yield from iter_csv(io.StringIO(text, newline=""))
    else:
        raise LeadFileError("only .csv and .xlsx files are read")


def _chunks(rows: Iterable[tuple[int, dict]], size: int) -> Iterator[tuple[list[int], list[dict]]]:
    lines: list[int] = []
    chunk: list[dict] = []
    for line, row in rows:
        lines.append(line)
        chunk.append(row)
        if len(chunk) >= size:
            yield lines, chunk
            lines, chunk = [], []
    if chunk:
        yield lines, chunk


def import_rows(
    rows: Iterable[tuple[int, dict]],
    *,
    source: str | None,
    channel: str,
    created_by_id: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Stream rows in chunks, each validated then written in its own transaction (a crash at 90 %
    keeps the first 90 %; a rerun finds them as duplicates). Rejections carry the file line number."""
    validator = LeadValidator(default_source=source)
    total = IngestResult()
    for lines, chunk in _chunks(rows, chunk_size):
        clean, rejected = validator.validate(chunk)
        for lead in clean:
            lead.index = lines[lead.index]
        for rejection in rejected:
            rejection.index = lines[rejection.index]
        received_at = timezone.now()
        with transaction.atomic():
            accepted = insert_leads(clean, channel=channel, created_by_id=created_by_id, received_at=received_at)
            save_rejections(rejected, channel=channel, created_by_id=created_by_id, received_at=received_at)
        total.add(IngestResult(accepted, len(clean) - accepted, rejected))
        if progress:
            progress(len(chunk))
    return total


@dataclass
class Preview:
    rows: int = 0
    valid: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.valid - self.duplicates


def preview_rows(rows: Iterable[tuple[int, dict]], *, source: str | None, chunk_size: int = 10_000) -> Preview:
    """What importing these rows would do, without writing anything: valid rows, how many of them are
    duplicates (already received, or repeated in the file), and the rejected rows with reasons."""
    validator = LeadValidator(default_source=source)
    preview = Preview()
    seen: set[tuple[str, str]] = set()
    for lines, chunk in _chunks(rows, chunk_size):
        clean, rejected = validator.validate(chunk)
        preview.rows += len(chunk)
        preview.valid += len(clean)
        for rejection in rejected:
            rejection.index = lines[rejection.index]
        preview.rejected.extend(rejected)
        keyed = [(lead.source, lead.external_id) for lead in clean if lead.external_id]
        fresh = []
        for key in keyed:
            if key in seen:
                preview.duplicates += 1
            else:
                seen.add(key)
                fresh.append(key)
        if fresh:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM tasks_lead l JOIN unnest(%s::text[], %s::text[]) AS k(source, external_id) "
                    "ON l.source = k.source AND l.external_id = k.external_id WHERE NOT (l.external_id = '')",
                    [[k[0] for k in fresh], [k[1] for k in fresh]],
                )
                preview.duplicates += cursor.fetchone()[0]
    return preview
