"""Recompute every keyed hash (blind index) with the current PERSON_HASH_KEY (docs/encryption.md,
"Rotating PERSON_HASH_KEY").

1. Stop web, workers and beat (a maintenance window: nothing may match or write hashes meanwhile).
2. Set the new PERSON_HASH_KEY.
3. `python manage.py rotate_person_hash_key` (batches of --batch-size rows, each committed on its own;
   every run recomputes everything from the decrypted values, so an interrupted run is simply run again,
   and a run with the key already in place updates nothing).
4. Start web, workers and beat again.
"""

from django.core.management.base import BaseCommand, CommandError

from tasks.blind_index import rehash_stored_hashes
from tasks.crypto import DecryptionError


class Command(BaseCommand):
    help = "Recompute the keyed hashes of persons, leads, lab results, SMS reminders and notices with PERSON_HASH_KEY."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, batch_size: int, verbosity: int, **options):
        log = self.stdout.write if verbosity > 1 else None
        try:
            done = rehash_stored_hashes(batch_size=max(1, batch_size), log=log)
        except DecryptionError as exc:
            raise CommandError(
                f"{exc}. Batches before this one are committed; fix FIELD_ENCRYPTION_KEYS and rerun."
            ) from exc
        for table, result in done.items():
            self.stdout.write(f"{table}: {result.updated} rows updated")
            for reason, count in result.notes.items():
                self.stdout.write(self.style.WARNING(f"  {table}: {count} rows: {reason}"))
        self.stdout.write(
            self.style.SUCCESS("done: every keyed hash is computed with the current PERSON_HASH_KEY")
        )
