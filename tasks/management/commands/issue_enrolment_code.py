"""Print a one-time enrolment code for an account of a two-factor role (first enrolment of an account
created with a password, or after its device was reset because the phone was lost)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tasks.accounts import enrolment_code_issue
from tasks.models import User
from tasks.security import otp_required
from tasks.twofactor import confirmed_device


class Command(BaseCommand):
    help = "Print a one-time code with which USERNAME links an authenticator app at its next login."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"no account {username!r}")
        if not otp_required(user):
            raise CommandError(f"{user.username}'s role needs no second factor")
        if confirmed_device(user) is not None:
            raise CommandError(
                f"{user.username} already has an authenticator: delete its TOTP device (admin) to reset it first"
            )
        code = enrolment_code_issue(user=user)
        self.stdout.write(f"Enrolment code for {user.username} (single use, expires): {code}")
