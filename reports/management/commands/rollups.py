"""`manage.py rollups --check` compares the rollups with a live count; `--rebuild` recomputes them."""

from django.core.management.base import BaseCommand, CommandError

from reports.rollups import rollup_differences, rollups_rebuild


class Command(BaseCommand):
    help = "Check (default) or rebuild the statistics rollups."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")

    def handle(self, *args, rebuild=False, **options):
        if rebuild:
            rollups_rebuild()
            self.stdout.write("rebuilt")
        diffs = {k: v for k, v in rollup_differences().items() if v}
        if diffs:
            raise CommandError(f"rollups differ from a live count: { {k: len(v) for k, v in diffs.items()} }")
        self.stdout.write("rollups equal a live count")
