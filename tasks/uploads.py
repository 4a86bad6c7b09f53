"""Uploaded lead files (docs/intake.md, "Uploads"): kept encrypted on disk while their preview waits to
be confirmed, read in streaming mode with limits, and, when large, previewed and imported by a Celery
job with its progress on a page instead of inside the web request.

* The bytes are encrypted with the field keys (tasks/crypto.py `encrypt_bytes`) before they touch the
  disk, and decrypted into memory only to be read. Confirmed, cancelled and failed files are deleted at
  once; abandoned ones by the retention purge (tasks/personal_data.py) after SESSION_COOKIE_AGE.
* An XLSX is a ZIP: its declared uncompressed size and the compression ratio of each member are checked
  before openpyxl opens it (a 205 KB file can unpack to hundreds of MB of XML), its sheet is read in
  openpyxl's read-only (streaming) mode, at most UPLOAD_MAX_COLUMNS columns a row, and an upload stops
  with a clear error past UPLOAD_MAX_ROWS rows.
* A file above UPLOAD_INLINE_BYTES gets an UploadJob: the Celery job `tasks.preview_upload` reads it and
  counts its rows as it goes, the page polls, the user confirms, and `tasks.import_upload` imports it the
  same way. When the broker cannot take the job, it runs in the request instead (slower, never lost).
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .crypto import DecryptionError, decrypt, encrypt, keyring
from .models import UploadJob

UPLOAD_DIR = "intake_uploads"
# A member of an XLSX that unpacks to more than this many times its compressed size is refused: real
# sheets compress 5-30 times; a decompression bomb by thousands.
MAX_COMPRESSION_RATIO = 250
PROGRESS_EVERY = 5_000


class UploadLimitError(ValueError):
    """The file is over a limit (size, rows, compression): the message says which and what to do."""


def upload_path(token: str, suffix: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{token}{suffix}.enc"


def store(token: str, suffix: str, data: bytes) -> Path:
    path = upload_path(token, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(keyring().encrypt_bytes(data))
    return path


def load(token: str, suffix: str) -> bytes:
    return keyring().decrypt_bytes(upload_path(token, suffix).read_bytes())


def discard(token: str, suffix: str) -> None:
    upload_path(token, suffix).unlink(missing_ok=True)


def check_xlsx(data: bytes) -> None:
    """Refuse an XLSX whose members unpack too far, before any XML is parsed."""
    limit = settings.UPLOAD_XLSX_MAX_UNCOMPRESSED_MB * 1024 * 1024
    try:
        members = zipfile.ZipFile(BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        return  # openpyxl says what is wrong with it
    total = sum(member.file_size for member in members)
    if total > limit:
        raise UploadLimitError(
            f"the workbook unpacks to {total // (1024 * 1024):,} MB, more than "
            f"{settings.UPLOAD_XLSX_MAX_UNCOMPRESSED_MB:,} MB: save it as CSV, or use the import_leads command"
        )
    for member in members:
        if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO:
            raise UploadLimitError(
                f"the workbook's part {member.filename} unpacks {member.file_size // member.compress_size:,} "
                "times its size, which no real sheet does: save it as CSV and upload that"
            )


def limit_rows(rows: Iterable[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    limit = settings.UPLOAD_MAX_ROWS
    for count, row in enumerate(rows, start=1):
        if count > limit:
            raise UploadLimitError(
                f"the file has more than {limit:,} rows: split it, or use the import_leads command"
            )
        yield row


# --- jobs ------------------------------------------------------------------------------------------------


def _claim(job_id: int, from_state: str, to_state: str) -> UploadJob | None:
    """Move the job on, once: a job delivered twice (or run inline after a late delivery) runs once."""
    now = timezone.now()
    claimed = UploadJob.objects.filter(pk=job_id, state=from_state).update(state=to_state, updated_at=now)
    return UploadJob.objects.get(pk=job_id) if claimed else None


def _counted(job: UploadJob, rows: Iterable[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    done = 0
    for row in rows:
        done += 1
        if done % PROGRESS_EVERY == 0:
            UploadJob.objects.filter(pk=job.pk).update(rows_done=done, updated_at=timezone.now())
        yield row
    UploadJob.objects.filter(pk=job.pk).update(rows_done=done, updated_at=timezone.now())


def _fail(job: UploadJob, message: str) -> None:
    UploadJob.objects.filter(pk=job.pk).update(
        state=UploadJob.State.FAILED, error=message, updated_at=timezone.now()
    )
    discard(job.token, job.suffix)


def save_result(job_id: int, state: str, result: dict[str, Any]) -> None:
    UploadJob.objects.filter(pk=job_id).update(
        state=state, result=encrypt(json.dumps(result, ensure_ascii=False)), updated_at=timezone.now()
    )


def job_result(job: UploadJob) -> dict[str, Any]:
    return json.loads(decrypt(job.result)) if job.result else {}


def preview_result(preview, shown: int) -> dict[str, Any]:
    return {
        "rows": preview.rows,
        "accepted": preview.accepted,
        "duplicates": preview.duplicates,
        "rejected_count": len(preview.rejected),
        "rejected": [
            {"index": r.index, "external_id": r.external_id, "errors": r.errors}
            for r in preview.rejected[:shown]
        ],
    }


def run_preview(job_id: int, *, shown: int = 200) -> None:
    from .leads_io import LeadFileError, iter_upload, preview_rows

    job = _claim(job_id, UploadJob.State.QUEUED, UploadJob.State.PREVIEWING)
    if job is None:
        return
    try:
        rows = _counted(job, iter_upload(job.name, load(job.token, job.suffix)))
        preview = preview_rows(rows, source=job.source, scope=job.scope or None)
    except (LeadFileError, UploadLimitError, csv.Error, DecryptionError, FileNotFoundError) as exc:
        _fail(job, str(exc))
        return
    save_result(job.pk, UploadJob.State.PREVIEWED, preview_result(preview, shown))


def run_import(job_id: int) -> None:
    from .leads_io import LeadFileError, import_rows, iter_upload

    job = _claim(job_id, UploadJob.State.PREVIEWED, UploadJob.State.IMPORTING)
    if job is None:
        return
    UploadJob.objects.filter(pk=job.pk).update(rows_done=0)
    try:
        result = import_rows(
            _counted(job, iter_upload(job.name, load(job.token, job.suffix))),
            source=job.source,
            channel="upload",
            created_by_id=job.created_by_id,
            scope=job.scope or None,
        )
    except (LeadFileError, UploadLimitError, csv.Error, DecryptionError, FileNotFoundError) as exc:
        _fail(job, str(exc))
        return
    discard(job.token, job.suffix)
    save_result(
        job.pk,
        UploadJob.State.DONE,
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected_count": len(result.rejected),
        },
    )


def start(job: UploadJob, step: str) -> None:
    """Hand the step ("preview" or "import") to a Celery worker after commit; run it here when the broker
    cannot take it, so that an upload never waits for a worker that will not come."""
    from tracing_center.enqueue import enqueue_now

    from .jobs_uploads import import_upload, preview_upload

    task, run = (preview_upload, run_preview) if step == "preview" else (import_upload, run_import)

    def publish() -> None:
        if not enqueue_now(task, job.pk):
            run(job.pk)

    transaction.on_commit(publish)
