from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tasks.leads_io import DEFAULT_CHUNK, LeadFileError, default_workers, import_csv, import_rows, iter_file
from tasks.models import Source

MAX_LISTED = 200


class Command(BaseCommand):
    help = (
        "Import leads from a CSV (UTF-8) or XLSX file whose first row names the columns (source, "
        "external_id, id_type, id_number, name, phone, division_code, current_division_code, address, reason, "
        "reported_at, related_task, payload; other columns go into payload). --source applies to rows "
        "with an empty source column. Streams the file and writes it in chunks by COPY; rows already "
        "received (same source and external_id) count as duplicates, so a rerun is safe. Rejected rows "
        "are stored with their reasons and listed with their line numbers."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="FILE")
        parser.add_argument("--source", required=True, choices=Source.values)
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows per transaction")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes validating CSV rows while this one writes (default: one per core; 0: none)",
        )

    def handle(self, *args, path, source, chunk_size, workers, verbosity, **options):
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        bar = tqdm(desc="importing", unit=" rows", disable=verbosity < 1, file=self.stderr, mininterval=0.5)
        try:
            if path.suffix.lower() in {".csv", ".txt"}:
                result = import_csv(
                    path,
                    source=source,
                    channel="file",
                    chunk_size=chunk_size,
                    progress=bar.update,
                    workers=default_workers() if workers is None else workers,
                )
            else:
                result = import_rows(
                    iter_file(path), source=source, channel="file", chunk_size=chunk_size, progress=bar.update
                )
        except LeadFileError as exc:
            raise CommandError(f"{path}: {exc}") from None
        finally:
            bar.close()
        self.stdout.write(
            f"accepted {result.accepted}, duplicates {result.duplicates}, rejected {len(result.rejected)}"
        )
        listed = result.rejected[:MAX_LISTED] if verbosity >= 1 else []
        for rejection in listed:
            reasons = "; ".join(f"{field}: {', '.join(errors)}" for field, errors in rejection.errors.items())
            self.stdout.write(f"  line {rejection.index}: {reasons}")
        if listed and len(result.rejected) > MAX_LISTED:
            self.stdout.write(
                f"  … and {len(result.rejected) - MAX_LISTED} more (all stored as rejected leads)"
            )
