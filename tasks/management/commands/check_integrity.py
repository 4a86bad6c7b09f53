from django.core.management.base import BaseCommand, CommandError

from tasks.integrity import check_integrity, unconstrained_links


class Command(BaseCommand):
    help = (
        "Check the foreign keys declared without a database constraint (the intake's bulk write path: "
        "leads, tasks, their history) for values that name no row. Read-only. Exits with an error when "
        "any is found."
    )

    def handle(self, *args, **options):
        found = check_integrity()
        for orphans in found:
            self.stdout.write(
                f"{orphans.link}: {orphans.count} rows point to no row (e.g. ids {orphans.sample})"
            )
        if found:
            raise CommandError(f"{len(found)} links point to missing rows")
        self.stdout.write(f"All {len(unconstrained_links())} unconstrained links resolve.")
