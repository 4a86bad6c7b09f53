"""Make a machine integration token (an upstream platform pushing leads) for a scoped account."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tasks.models import ApiToken, User
from tasks.roles import can
from tasks.tokens import token_issue


class Command(BaseCommand):
    help = (
        "Create an integration token for ACCOUNT (a scoped account that may send leads: its leads stay in "
        "its territory). The key is printed once; it works on /api/v1/leads/ only, until "
        "INTEGRATION_TOKEN_LIFETIME_DAYS have passed or it is revoked."
    )

    def add_arguments(self, parser):
        parser.add_argument("account")
        parser.add_argument(
            "--name", required=True, help="the system that uses it, e.g. 'health-code platform'"
        )

    def handle(self, *args, account: str, name: str, **options):
        user = User.objects.filter(username__iexact=account).first()
        if user is None or not user.is_active:
            raise CommandError(f"no active account {account!r}")
        if not can(user, "lead.create"):
            raise CommandError(f"{account!r} may not send leads (role {user.role or '-'})")
        key, token = token_issue(user=user, kind=ApiToken.Kind.INTEGRATION, name=name)
        self.stdout.write(f"{key}\n")
        self.stderr.write(
            f"integration token {token.prefix}… for {user.username} (scope {user.division_id}), "
            f"valid until {token.expires_at:%Y-%m-%d %H:%M %Z}\n"
        )
