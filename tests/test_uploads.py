"""Uploaded lead files: encrypted on disk, read within limits, and previewed and imported by a Celery job
with a progress page when large (tasks/uploads.py)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from tasks.leads_io import iter_upload
from tasks.lifecycle import SweepScope
from tasks.models import Lead, UploadJob
from tasks.personal_data import purge_upload_jobs
from tasks.uploads import UploadLimitError, run_import, run_preview, upload_path
from tests.intake_helpers import HOME_VILLAGE

pytestmark = pytest.mark.django_db

HEADER = "source,external_id,id_number,name,phone,division_code,address,reason,reported_at\n"
SENTINEL_NAME = "欧阳娜娜"


def _row(n: int, name: str = "张三") -> str:
    return f"community,U{n},,{name},1390000{n:04d},{HOME_VILLAGE},海秀路{n}号,社区排查,2024-05-01T10:00:00+08:00\n"


def _csv(rows: int, name: str = "leads.csv") -> SimpleUploadedFile:
    body = HEADER + "".join(_row(n, SENTINEL_NAME if n == 1 else "张三") for n in range(1, rows + 1))
    return SimpleUploadedFile(name, body.encode(), content_type="text/csv")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LANGUAGE_CODE = "en"
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


def _stored_files(settings) -> list[Path]:
    return sorted((Path(settings.MEDIA_ROOT) / "intake_uploads").glob("*"))


def test_a_previewed_upload_waits_encrypted_on_disk_and_is_deleted_when_confirmed(
    client, duty_officer, settings
):
    client.force_login(duty_officer)
    preview = client.post(reverse("intake_upload"), {"file": _csv(3), "source": "community"})
    assert preview.status_code == 200 and preview.context["preview"]["accepted"] == 3
    [stored] = _stored_files(settings)
    raw = stored.read_bytes()
    assert raw.startswith(b"TCF1")
    assert SENTINEL_NAME.encode() not in raw and b"13900000001" not in raw
    token = preview.context["token"]
    done = client.post(reverse("intake_upload"), {"action": "confirm", "token": token})
    assert done.status_code == 302
    assert Lead.objects.filter(external_id__in=["U1", "U2", "U3"]).count() == 3
    assert not _stored_files(settings)


def test_a_large_upload_is_previewed_and_imported_by_a_job_with_its_progress(
    client, duty_officer, settings, django_capture_on_commit_callbacks
):
    settings.UPLOAD_INLINE_BYTES = 100
    client.force_login(duty_officer)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("intake_upload"), {"file": _csv(12), "source": "community"})
    job = UploadJob.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("intake_upload_job", args=[job.token])
    # Published to the real broker; no worker runs here, so the job waits, and its page says so.
    assert job.state == "queued"
    waiting = client.get(answer.url)
    assert waiting.context["working"] and b'http-equiv="refresh"' in waiting.content
    assert upload_path(job.token, job.suffix).read_bytes().startswith(b"TCF1")

    run_preview(job.pk)  # what the worker does
    run_preview(job.pk)  # a second delivery: nothing more
    job.refresh_from_db()
    assert (job.state, job.rows_done) == ("previewed", 12)
    assert not job.result.startswith("{")  # the preview is stored encrypted
    page = client.get(answer.url)
    assert page.context["preview"]["accepted"] == 12

    with django_capture_on_commit_callbacks(execute=True):
        client.post(answer.url, {"action": "confirm"})
    run_import(job.pk)
    job.refresh_from_db()
    assert job.state == "done"
    assert Lead.objects.filter(external_id__startswith="U").count() == 12
    assert b"12 leads accepted" in client.get(answer.url).content
    assert not upload_path(job.token, job.suffix).exists()


def test_with_the_broker_down_the_job_runs_in_the_request(
    client, duty_officer, settings, broker_down, django_capture_on_commit_callbacks
):
    settings.UPLOAD_INLINE_BYTES = 100
    client.force_login(duty_officer)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("intake_upload"), {"file": _csv(5), "source": "community"})
    assert answer.status_code == 302
    assert UploadJob.objects.get().state == "previewed"


def test_another_account_cannot_see_a_job(client, duty_officer, settings, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    settings.UPLOAD_INLINE_BYTES = 100
    client.force_login(duty_officer)
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(reverse("intake_upload"), {"file": _csv(5), "source": "community"})
    other = UserFactory(username="other-desk", role="duty_officer", division_id="460105")
    client.force_login(other)
    assert client.get(answer.url).status_code == 404


def test_an_upload_stops_past_the_row_limit_with_a_clear_error(client, duty_officer, settings):
    settings.UPLOAD_MAX_ROWS = 3
    client.force_login(duty_officer)
    answer = client.post(reverse("intake_upload"), {"file": _csv(5), "source": "community"})
    assert answer.status_code == 200
    assert "more than 3 rows" in " ".join(answer.context["form"].errors["file"])
    assert not _stored_files(settings) and not Lead.objects.exists()


def _xlsx(extra: dict[str, bytes] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(_row(1).strip().split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    if not extra:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


def test_an_xlsx_that_unpacks_like_a_bomb_is_refused_before_it_is_parsed():
    bomb = _xlsx({"xl/media/padding.bin": b"\0" * (8 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(UploadLimitError, match="unpacks"):
        list(iter_upload("bomb.xlsx", bomb))


def test_an_xlsx_over_the_unpacked_size_limit_is_refused(settings):
    import os

    settings.UPLOAD_XLSX_MAX_UNCOMPRESSED_MB = 1
    big = _xlsx({"xl/media/photo.bin": os.urandom(2 * 1024 * 1024)})
    with pytest.raises(UploadLimitError, match="more than 1 MB"):
        list(iter_upload("big.xlsx", big))


def test_a_sheet_claiming_thousands_of_columns_is_read_only_as_wide_as_a_lead_file(settings):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(_row(1).strip().split(","))
    sheet.cell(row=2, column=16000, value="far away")
    buffer = io.BytesIO()
    book.save(buffer)
    rows = list(iter_upload("wide.xlsx", buffer.getvalue()))
    assert len(rows) == 1 and rows[0][1]["external_id"] == "U1"


def test_jobs_untouched_for_a_session_are_purged(duty_officer, settings):
    now = timezone.now()
    old = UploadJob.objects.create(
        token="old",
        created_by=duty_officer,
        name="a.csv",
        suffix=".csv",
        source="community",
        updated_at=now - dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 1),
    )
    UploadJob.objects.create(
        token="young", created_by=duty_officer, name="b.csv", suffix=".csv", source="community"
    )
    scope = SweepScope(now=now, cutoff=now - dt.timedelta(days=settings.RETENTION_DAYS), dry_run=False)
    assert purge_upload_jobs(scope) == 1
    assert (
        not UploadJob.objects.filter(pk=old.pk).exists() and UploadJob.objects.filter(token="young").exists()
    )
