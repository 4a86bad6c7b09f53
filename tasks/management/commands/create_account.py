from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tasks.accounts import account_create, activation_code_issue, enrolment_code_issue
from tasks.models import Role
from tasks.security import otp_required


class Command(BaseCommand):
    help = "Provision an account (one person, one account) with a role and a territorial scope."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--division", required=True, metavar="CODE", help="division code of the account's scope"
        )
        parser.add_argument("--full-name", default="")
        parser.add_argument("--phone", default="")
        secret = parser.add_mutually_exclusive_group(required=True)
        secret.add_argument("--password", metavar="P")
        secret.add_argument(
            "--activation",
            action="store_true",
            help="create the account inactive and print a one-time activation code",
        )

    def handle(self, *args, username, role, division, full_name, phone, password, activation, **options):
        try:
            user = account_create(
                username=username,
                role=role,
                division_code=division,
                full_name=full_name,
                password=password,
                phone=phone,
            )
        except ValidationError as exc:
            lines = [f"  {field}: {'; '.join(messages)}" for field, messages in exc.message_dict.items()]
            raise CommandError("account not created:\n" + "\n".join(lines)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created {user.username} ({user.get_role_display()}, scope {user.division}).")
        )
        if activation:
            code = activation_code_issue(user=user)
            self.stdout.write(f"Activation code (single use, expires): {code}")
        elif otp_required(user):
            # A password is no proof of who enrols the second factor: the owner needs this code too.
            code = enrolment_code_issue(user=user)
            self.stdout.write(f"Enrolment code for the authenticator (single use, expires): {code}")
            self.stdout.write(
                "The owner activates the account at /accounts/activate/ with the username and this code."
            )
