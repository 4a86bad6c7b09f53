"""Reading lead files (CSV, XLSX) and writing validated leads in bulk.

Writes go through COPY into a temporary staging table and one
`INSERT … SELECT … ON CONFLICT (source, external_id) DO NOTHING` into tasks_lead: a row already received
with the same (source, external_id) — in an earlier request or earlier in the same one — is counted as a
duplicate, not stored twice, so a client may resend safely after a timeout. Rejected rows are stored as
LeadRejection rows, also by COPY: nothing is silently dropped.

Resident ID numbers, phones, names and addresses are encrypted here, in Python, before COPY
(tasks/crypto.py): PostgreSQL never sees their plaintext (the intake batch decrypts, in Python, only the
addresses it must resolve to a village), and the rejected rows keep them encrypted too (crypto.protect_row).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import multiprocessing
import multiprocessing.util
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .crypto import keyring, protect_row
from .models import Priority
from .uploads import check_xlsx, limit_rows
from .validation import LEAD_FIELDS, CleanLead, LeadValidator, Rejection

MAX_API_ROWS = 10_000
DEFAULT_CHUNK = 50_000

STAGING_COLUMNS = (
    "ord",
    "source",
    "external_id",
    "id_number",
    "id_number_hash",
    "name",
    "phone",
    "phone_hash",
    "division_id",
    "current_division_id",
    "address",
    "reason",
    "reported_at",
    "related_task_id",
    "payload",
    "priority",
    "person_key",
    "id_type",
    "id_region_unknown",
    "name_birth_hash",
    "name_hash",
)
_STAGING_DDL = """
CREATE TEMP TABLE lead_staging (
    ord integer, source text, external_id text, id_number text, id_number_hash text, name text, phone text,
    phone_hash text, division_id text, current_division_id text, address text, reason text,
    reported_at timestamptz, related_task_id bigint, payload text, priority smallint, person_key text,
    id_type text, id_region_unknown boolean, name_birth_hash text, name_hash text
) ON COMMIT DROP
"""
_INSERT = """
INSERT INTO tasks_lead (source, external_id, id_number, id_number_hash, name, phone, phone_hash, division_id,
    current_division_id, address, reason, reported_at, received_at, related_task_id, payload, priority,
    person_key, channel, created_by_id, id_type, id_region_unknown, name_birth_hash, name_hash)
SELECT source, external_id, id_number, id_number_hash, name, phone, phone_hash, division_id,
    current_division_id, address, reason, reported_at, %(received_at)s, related_task_id, payload::jsonb, priority,
    person_key, %(channel)s, %(created_by)s, id_type, id_region_unknown, name_birth_hash, name_hash
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


def insert_copy_text(text: str, *, channel: str, created_by_id: int | None, received_at: datetime) -> int:
    """Insert leads given as COPY text lines of STAGING_COLUMNS (copy_text); return how many were new.
    Call inside a transaction."""
    if not text:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lead_staging")
        cursor.execute(_STAGING_DDL)
        with cursor.copy(f"COPY lead_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, len(text), _COPY_BLOCK):
                copy.write(text[start : start + _COPY_BLOCK])
        # ORDER BY ord sorts whole rows: ~20 MB for 50,000 leads, which spills to disk with the default 4 MB.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_INSERT, {"received_at": received_at, "channel": channel, "created_by": created_by_id})
        accepted = cursor.rowcount
        cursor.execute("DROP TABLE lead_staging")
    return accepted


# COPY text format (PostgreSQL "COPY … FROM STDIN", default text format): columns separated by tabs, rows
# by newlines, NULL as \N; a backslash, tab, newline or carriage return inside a value is escaped.
_COPY_BLOCK = 1 << 20
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_value(text: str) -> str:
    return text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text


def copy_text(leads: list[CleanLead]) -> str:
    """The leads as COPY text lines of STAGING_COLUMNS, identity numbers, phones, names and addresses
    encrypted.

    One AES-GCM call per non-empty value (~2 µs); empty values stay '' (crypto.encrypt's rule, inlined).
    Only the free-text values can hold a character COPY needs escaped, and they usually hold none: one
    search over all of them decides. The others cannot: the source (validated), envelopes (urlsafe
    base64), hashes (hex), division codes and ids (digits), ISO timestamps."""
    encrypt = keyring().encrypt
    special = _COPY_SPECIAL.search
    escape = _copy_value
    dumps = json.dumps
    lines: list[str] = []
    append = lines.append
    for lead in leads:
        payload = dumps(lead.payload, ensure_ascii=False, default=str) if lead.payload else "{}"
        external_id, name, address, reason = lead.external_id, lead.name, lead.address, lead.reason
        if special(f"{external_id}{reason}{payload}"):
            external_id, reason, payload = escape(external_id), escape(reason), escape(payload)
        append(
            "\t".join(
                (
                    str(lead.index),
                    lead.source,
                    external_id,
                    encrypt(lead.id_number) if lead.id_number else "",
                    lead.id_number_hash,
                    encrypt(name) if name else "",
                    encrypt(lead.phone) if lead.phone else "",
                    lead.phone_hash,
                    _NULL if lead.division_id is None else lead.division_id,
                    _NULL if lead.current_division_id is None else lead.current_division_id,
                    encrypt(address) if address else "",
                    reason,
                    lead.reported_at.isoformat(),
                    _NULL if lead.related_task_id is None else str(int(lead.related_task_id)),
                    payload,
                    _PRIORITY_TEXT.get(lead.priority) or str(int(lead.priority)),
                    lead.person_key,
                    lead.id_type,
                    "t" if lead.id_region_unknown else "f",
                    lead.name_birth_hash,
                    lead.name_hash,
                )
            )
        )
    append("")
    return "\n".join(lines)


_PRIORITY_TEXT = {int(p): str(int(p)) for p in Priority}


_SURROGATES = re.compile("[\ud800-\udfff]")


def _storable(value: Any) -> Any:
    """`value` with NUL characters replaced by U+FFFD: PostgreSQL text and jsonb cannot hold U+0000, and a
    rejected row is stored as it came (a NUL in it is one of the reasons it was rejected)."""
    if isinstance(value, str):
        value = value.replace("\x00", "\ufffd")
        # Lone surrogates cannot be encoded as UTF-8 either.
        return value if value.isascii() else _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


def save_rejections(
    rejections: list[Rejection], *, channel: str, created_by_id: int | None, received_at: datetime
) -> None:
    if not rejections:
        return
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY tasks_leadrejection (source, external_id, channel, row_index, errors, row, received_at, created_by_id) FROM STDIN"
        ) as copy:
            for r in rejections:
                copy.write_row(
                    (
                        _storable(str(r.source or ""))[:20],
                        _storable(str(r.external_id or ""))[:100],
                        channel,
                        r.index,
                        json.dumps(_storable(r.errors), ensure_ascii=False),
                        json.dumps(protect_row(_storable(r.row)), ensure_ascii=False, default=str),
                        received_at,
                        created_by_id,
                    )
                )


def _store_chunk(
    text: str, clean: int, rejected: list[Rejection], *, channel: str, created_by_id: int | None
) -> IngestResult:
    """One chunk in one transaction: its valid leads (COPY text of `clean` leads; the ones already received
    count as duplicates) and its rejected rows."""
    received_at = timezone.now()
    with transaction.atomic():
        accepted = insert_copy_text(
            text, channel=channel, created_by_id=created_by_id, received_at=received_at
        )
        save_rejections(rejected, channel=channel, created_by_id=created_by_id, received_at=received_at)
    return IngestResult(accepted=accepted, duplicates=clean - accepted, rejected=rejected)


def ingest_rows(
    rows: list[Any],
    *,
    channel: str,
    created_by_id: int | None = None,
    default_source: str | None = None,
    validator: LeadValidator | None = None,
    start_index: int = 0,
    scope: str | None = None,
) -> IngestResult:
    """Validate and store one chunk of rows in one transaction: valid rows become leads (or duplicates),
    invalid rows become LeadRejection rows."""
    validator = validator or LeadValidator(default_source=default_source, scope=scope)
    with _gc_paused():
        clean, rejected = validator.validate(rows, start_index=start_index)
        text = copy_text(clean)
    return _store_chunk(text, len(clean), rejected, channel=channel, created_by_id=created_by_id)


# --- files -----------------------------------------------------------------------------------------------


class LeadFileError(Exception):
    """A file that cannot be read at all (wrong format, no header)."""


def _row_from(header: list[str], values: list[Any]) -> dict[str, Any]:
    """A file row as a lead dict: known columns are fields; other non-empty columns go into payload."""
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    # A row may be shorter or longer than the header (spreadsheets drop trailing empty cells).
    for name, value in zip(header, values, strict=False):
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
        raise LeadFileError(
            f"the first row must name the columns ({', '.join(LEAD_FIELDS)}); found {', '.join(header)[:200]}"
        )
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


def iter_xlsx(
    handle: IO[bytes] | Path | str, *, max_columns: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise LeadFileError(f"not a readable XLSX workbook: {exc}") from None
    try:
        # read-only mode streams the sheet; a sheet claiming thousands of columns is cut to what a lead
        # file can have (a row's cells beyond it are never materialised).
        rows = workbook.worksheets[0].iter_rows(values_only=True, max_col=max_columns)
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
    """The rows of an uploaded file, within the upload limits (tasks/uploads.py)."""
    yield from limit_rows(_iter_upload(name, data))


def _iter_upload(name: str, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    if name.lower().endswith(".xlsx"):
        check_xlsx(data)
        yield from iter_xlsx(io.BytesIO(data), max_columns=settings.UPLOAD_MAX_COLUMNS)
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
    scope: str | None = None,
) -> IngestResult:
    """Stream rows in chunks, each validated then written in its own transaction (a crash at 90 %
    keeps the first 90 %; a rerun finds them as duplicates). Rejections carry the file line number.
    `scope`: the sender's territory (rows outside it are rejected); None for the command line."""
    validator = LeadValidator(default_source=source, scope=scope)
    total = IngestResult()
    for lines, chunk in _chunks(rows, chunk_size):
        with _gc_paused():
            clean, rejected = validator.validate(chunk)
            for lead in clean:
                lead.index = lines[lead.index]
            for rejection in rejected:
                rejection.index = lines[rejection.index]
            text = copy_text(clean)
        total.add(_store_chunk(text, len(clean), rejected, channel=channel, created_by_id=created_by_id))
        if progress:
            progress(len(chunk))
    return total


# --- CSV files in blocks, optionally validated in worker processes ---------------------------------------
#
# import_csv is import_rows for a CSV file, with the same results (rows, line numbers, reasons, one
# transaction per chunk) but cheaper: the file is cut into blocks of whole records as text, and each block
# is parsed, validated, hashed, encrypted and turned into COPY text in one step (_process_block) — in
# worker processes when `workers` > 1, so that the second core validates the next blocks while this
# process COPYs and INSERTs the current one. Blocks are written in file order, each in its own
# transaction: a crash (in a worker too) leaves the blocks written before it committed, and a rerun
# counts them as duplicates.

_READ_SIZE = 1 << 22


def _record_ends(text: str) -> Iterator[tuple[list[str], int]]:
    """(record, position after it) for each CSV record of `text`, as csv.reader reads a file opened with
    newline='' (what iter_csv does)."""
    source = io.StringIO(text, newline="")
    for record in csv.reader(source):
        yield record, source.tell()


def _line_ends(text: str, count: int) -> int:
    """The position after the count-th newline of text, or 0 when it has fewer."""
    position = 0
    find = text.find
    for _ in range(count):
        position = find("\n", position) + 1
        if not position:
            return 0
    return position


def _csv_blocks(
    handle: IO[str], rows_per_block: int, first_block: int | None = None, second_block: int | None = None
) -> Iterator[str]:
    """The text of `handle` in blocks of whole CSV records: the first of `first_block` lines (the header),
    the second of `second_block` lines, then rows_per_block lines each (the last one: the rest of the file).

    A block ends after a newline. Without a quote character before it, that newline ends a record (only
    a quoted field spans lines). With one, the block is cut after the last record but one that csv.reader
    finds in it (the last might continue after the newline) — and made longer first when that leaves nothing."""
    buffer = ""
    eof = False
    sizes = [size for size in (first_block, second_block) if size]
    want = sizes.pop(0) if sizes else rows_per_block
    while True:
        cut = _line_ends(buffer, want)
        while not cut and not eof:
            data = handle.read(_READ_SIZE)
            if data:
                buffer += data
                cut = _line_ends(buffer, want)
            else:
                eof = True
        if not cut:
            if buffer:
                yield buffer
            return
        if '"' in buffer[:cut]:
            ends = [end for _, end in _record_ends(buffer[:cut])]
            if len(ends) < 2:
                want *= 2
                continue
            cut = ends[-2]
        yield buffer[:cut]
        buffer = buffer[cut:]
        want = sizes.pop(0) if sizes else rows_per_block


@dataclass
class BlockResult:
    records: int  # CSV records in the block, blank ones included (they count for the line numbers)
    rows: int  # rows validated (blank records are skipped)
    copy_text: str  # the valid rows as COPY text (copy_text)
    clean: int
    rejected: list[Rejection]  # index: the record's position in the block (0 = first)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector: validating a chunk allocates a few objects per row and no
    cycles, and the collections that allocation triggers would otherwise cost about a third of it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process_block(text: str, header: list[str], validator: LeadValidator) -> BlockResult:
    with _gc_paused():
        return _process_block_now(text, header, validator)


def _process_block_now(text: str, header: list[str], validator: LeadValidator) -> BlockResult:
    positions: list[int] = []
    rows: list[dict] = []
    records = 0
    if all(name in LEAD_FIELDS for name in header):
        # No column for payload: _row_from comes down to the non-empty values by name (CSV gives text).
        def row_from(values: list[str]) -> dict[str, Any]:
            return {name: value for name, value in zip(header, values, strict=False) if value}
    else:

        def row_from(values: list[str]) -> dict[str, Any]:
            return _row_from(header, values)

    for records, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if any(values):
            positions.append(records - 1)
            rows.append(row_from(values))
    clean, rejected = validator.validate(rows)
    for lead in clean:
        lead.index = positions[lead.index]
    for rejection in rejected:
        rejection.index = positions[rejection.index]
    return BlockResult(records, len(rows), copy_text(clean), len(clean), rejected)


# Worker processes (forked): their own validator, and their own plain psycopg connection for its few
# lookups (division codes, related tasks, the county index) — never the connection (or pool) Django
# had in the parent at the fork.
_worker: dict[str, Any] = {}


def _worker_init(header: list[str], source: str | None, now: datetime, conn_params: dict) -> None:
    import psycopg

    def cursor():
        conn = _worker.get("connection")
        if conn is None or conn.closed:
            conn = _worker["connection"] = psycopg.connect(**conn_params, autocommit=True)
            # Closed when the worker exits (multiprocessing runs these finalizers, not atexit's).
            multiprocessing.util.Finalize(None, conn.close, exitpriority=10)
        return conn.cursor()

    _worker["header"] = header
    _worker["validator"] = LeadValidator(default_source=source, now=now, cursor=cursor)


def _worker_block(text: str) -> BlockResult:
    return _process_block(text, _worker["header"], _worker["validator"])


def default_workers() -> int:
    """Worker processes for a file import: one per core (this process mostly waits for PostgreSQL)."""
    return os.cpu_count() or 1


def import_csv(
    path: Path,
    *,
    source: str | None,
    channel: str,
    created_by_id: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    workers: int = 0,
) -> IngestResult:
    """import_rows(iter_file(path)) for a CSV file, with blocks of chunk_size records validated in
    `workers` processes (0: in this process). Inside a transaction (a caller's atomic block) the workers
    could not see its uncommitted rows, and this process's connection cannot be closed: it validates
    in this process then."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        # The header alone, then a small first chunk: the workers' first results come quickly, so that
        # this process starts writing while they validate the next chunks (a shorter idle start).
        blocks = _csv_blocks(handle, chunk_size, first_block=1, second_block=max(1, chunk_size // 10))
        first = next(blocks, "")
        try:
            header_values, header_end = next(_record_ends(first))
        except StopIteration:
            raise LeadFileError("the file is empty") from None
        header = _clean_header(header_values)
        validator = LeadValidator(default_source=source)
        rest = first[header_end:]

        def texts() -> Iterator[str]:
            if rest:
                yield rest
            yield from blocks

        writer = _BlockWriter(channel=channel, created_by_id=created_by_id, progress=progress)
        if workers < 1 or connection.in_atomic_block:
            for text in texts():
                writer.write(_process_block(text, header, validator))
            return writer.total
        conn_params = connection.get_connection_params()
        # Nothing of this process's database connection may be shared with the forked workers.
        connection.close()
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_init,
            initargs=(header, source, validator.now, conn_params),
        )
        try:
            pending: deque = deque()
            for text in texts():
                pending.append(executor.submit(_worker_block, text))
                if len(pending) > workers:
                    writer.write(pending.popleft().result())
            while pending:
                writer.write(pending.popleft().result())
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return writer.total


class _BlockWriter:
    """Writes processed blocks in file order, each in its own transaction."""

    def __init__(self, *, channel: str, created_by_id: int | None, progress: Callable[[int], None] | None):
        self.channel = channel
        self.created_by_id = created_by_id
        self.progress = progress
        self.next_line = 2  # the header is line 1 (iter_csv's numbering: one per record)
        self.total = IngestResult()

    def write(self, block: BlockResult) -> None:
        for rejection in block.rejected:
            rejection.index += self.next_line
        self.next_line += block.records
        self.total.add(
            _store_chunk(
                block.copy_text,
                block.clean,
                block.rejected,
                channel=self.channel,
                created_by_id=self.created_by_id,
            )
        )
        if self.progress:
            self.progress(block.rows)


@dataclass
class Preview:
    rows: int = 0
    valid: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.valid - self.duplicates


def preview_rows(
    rows: Iterable[tuple[int, dict]],
    *,
    source: str | None,
    chunk_size: int = 10_000,
    scope: str | None = None,
) -> Preview:
    """What importing these rows would do, without writing anything: valid rows, how many of them are
    duplicates (already received, or repeated in the file), and the rejected rows with reasons."""
    validator = LeadValidator(default_source=source, scope=scope)
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
