from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tasks.territory import DivisionFileError, load_division_files


class Command(BaseCommand):
    help = (
        "Load the five-level territory from statistical division CSVs (code,name,level,parent_code; "
        ".csv or .csv.gz). Idempotent: a second run changes nothing. Files are validated first and "
        "loaded together in one transaction, so parents may come in an earlier file of the same call."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument(
            "--with-teams",
            action="store_true",
            help="also create the duty desks (city, county), teams (township) and sub-units (village)",
        )

    def handle(self, *args, paths, with_teams, verbosity, **options):
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        bar = tqdm(desc="reading", unit=" rows", disable=verbosity < 1, file=self.stderr, mininterval=0.5)
        try:
            result = load_division_files(paths, with_teams=with_teams, progress=bar.update)
        except DivisionFileError as exc:
            bar.close()
            lines = [f"  {path}, line {line}: {reason}" for path, line, reason in exc.problems]
            raise CommandError("rejected, nothing was loaded:\n" + "\n".join(lines)) from None
        bar.close()
        levels = ", ".join(f"{count} {level}" for level, count in result.by_level.items())
        if result.inserted == 0 and result.updated == 0:
            self.stdout.write(f"Nothing changed: all {result.rows} divisions ({levels}) were already loaded.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {result.rows} divisions ({levels}): {result.inserted} new, {result.updated} updated, "
                    f"{result.unchanged} unchanged."
                )
            )
        if with_teams:
            self.stdout.write(f"Units (duty desks, teams, sub-units) created: {result.units_created}.")
