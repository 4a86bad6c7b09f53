import csv
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from monitoring.services.labs import (
    DEFAULT_CHUNK,
    LAB_FIELDS,
    LabIngestResult,
    LabResultValidator,
    ingest_rows,
)
from tasks.models import Division

MAX_LISTED = 200


class LabFileError(Exception):
    pass


def _header(raw: list[Any]) -> list[str]:
    header = [str(h or "").strip().lstrip("\ufeff").lower() for h in raw]
    unknown = [h for h in header if h and h not in LAB_FIELDS]
    if unknown or not any(header):
        raise LabFileError(
            f"the first row must name the columns ({', '.join(LAB_FIELDS)}); unknown: {', '.join(unknown)[:200]}"
        )
    return header


def _row(header: list[str], values: list[Any]) -> dict[str, Any]:
    return {
        name: value for name, value in zip(header, values, strict=False) if name and value not in (None, "")
    }


def iter_lab_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or XLSX file of lab results; empty lines are skipped."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = _header(next(reader))
            except StopIteration:
                raise LabFileError("the file is empty") from None
            for line, values in enumerate(reader, start=2):
                if any(values):
                    yield line, _row(header, values)
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise LabFileError(f"not a readable XLSX workbook: {exc}") from None
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            try:
                header = _header(list(next(rows)))
            except StopIteration:
                raise LabFileError("the sheet is empty") from None
            for line, values in enumerate(rows, start=2):
                if any(v not in (None, "") for v in values):
                    yield line, _row(header, list(values))
        finally:
            workbook.close()
    else:
        raise LabFileError("only .csv and .xlsx files are read")


def _chunks(rows: Iterator[tuple[int, dict]], size: int) -> Iterator[tuple[list[int], list[dict]]]:
    while chunk := list(islice(rows, size)):
        yield [line for line, _row in chunk], [row for _line, row in chunk]


class Command(BaseCommand):
    help = (
        "Import lab results from a CSV (UTF-8) or XLSX file whose first row names the columns (lab, sample_id, "
        "sampled_at, test_type, result, id_type, id_number, phone, name). --lab applies to rows with an "
        "empty lab column. Validated and stored like POST /api/v1/test-results/: a result already received "
        "(same lab and sample_id) is a duplicate, so a rerun is safe; rejected rows are listed with their "
        "line numbers. Unmatched results wait in the duty officers' queue of --division (the lab's "
        "territory)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="FILE")
        parser.add_argument("--lab", default="", help="the laboratory of rows whose lab column is empty")
        parser.add_argument(
            "--division",
            default=None,
            help="division code of the lab's territory: where unmatched results wait to be matched",
        )
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows per transaction")

    def handle(self, *args, path, lab, division, chunk_size, verbosity, **options):
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        if division and not Division.objects.filter(code=division).exists():
            raise CommandError(f"--division: no division has code {division}")
        validator = LabResultValidator(default_lab=lab.strip(), now=timezone.now())
        total = LabIngestResult()
        bar = tqdm(desc="importing", unit=" rows", disable=verbosity < 1, file=self.stderr, mininterval=0.5)
        try:
            for lines, chunk in _chunks(iter_lab_file(path), chunk_size):
                total.add(
                    ingest_rows(
                        chunk,
                        submitted_by_id=None,
                        division_id=division or None,
                        validator=validator,
                        line_numbers=lines,
                    )
                )
                bar.update(len(chunk))
        except LabFileError as exc:
            raise CommandError(f"{path}: {exc}") from None
        finally:
            bar.close()
        self.stdout.write(
            f"accepted {total.accepted}, duplicates {total.duplicates}, rejected {len(total.rejected)}, "
            f"matched {total.matched}, positive {total.positives}"
        )
        listed = total.rejected[:MAX_LISTED] if verbosity >= 1 else []
        for rejection in listed:
            reasons = "; ".join(f"{field}: {', '.join(errors)}" for field, errors in rejection.errors.items())
            self.stdout.write(f"  line {rejection.index}: {reasons}")
        if listed and len(total.rejected) > MAX_LISTED:
            self.stdout.write(f"  … and {len(total.rejected) - MAX_LISTED} more")
