"""Print the current TOTP code of an account: demo and manual testing only (refused unless DEBUG)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tasks.models import User
from tasks.twofactor import confirmed_device, current_code


class Command(BaseCommand):
    help = (
        "Print the current two-factor (TOTP) code of USERNAME. Demo/testing only: refused when DEBUG is off."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("totp_code is for demos and testing: it runs only with DEBUG=true.")
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no account named {username}") from None
        device = confirmed_device(user)
        if device is None:
            raise CommandError(
                f"{username} has no confirmed two-factor device (run seed_demo, or log in once to enrol)"
            )
        self.stdout.write(current_code(device))
