"""Re-encrypt every encrypted value with the current key (docs/encryption.md, "Key rotation").

1. Put the new key FIRST in FIELD_ENCRYPTION_KEYS, keep the old one(s) after it; restart web + workers.
2. `python manage.py rotate_encryption_keys` (batches of --batch-size rows, each committed on its own:
   interrupt and rerun at will; a rerun skips what is already done). It also encrypts plaintext rows
   left from before encryption was deployed.
3. Remove the old key(s) from FIELD_ENCRYPTION_KEYS; restart.
"""

from django.core.management.base import BaseCommand, CommandError

from tasks.crypto import DecryptionError, keyring, rotate_stored_values


class Command(BaseCommand):
    help = "Re-encrypt resident ID numbers and phones with the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, batch_size: int, verbosity: int, **options):
        ring = keyring()
        self.stdout.write(f"current key id {ring.current_id}; readable key ids: {', '.join(ring.ciphers)}")
        log = self.stdout.write if verbosity > 1 else None
        try:
            done = rotate_stored_values(batch_size=max(1, batch_size), log=log)
        except DecryptionError as exc:
            raise CommandError(
                f"{exc}. Batches before this one are committed; fix the keys and rerun."
            ) from exc
        for table, count in done.items():
            self.stdout.write(f"{table}: {count} rows re-encrypted")
        self.stdout.write(self.style.SUCCESS("done: every value is encrypted with the current key"))
