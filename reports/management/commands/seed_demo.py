from django.core.management.base import BaseCommand
from django.db import transaction

from tasks.models import Role, Unit, UnitMembership, User
from tasks.security import otp_required
from tasks.twofactor import ensure_confirmed_device

# One account per role in 海口市秀英区 (Hainan), matching the demo territory shipped with the project.
DEMO_ACCOUNTS = [
    ("duty", Role.DUTY_OFFICER, "460105", "值班员 王"),
    # The county desk's second officer: the roster alternates the two, and a handover has someone to take it.
    ("duty2", Role.DUTY_OFFICER, "460105", "值班员 吴"),
    # The city desk: the second level of notice review (a duty officer scoped to the city).
    ("city", Role.DUTY_OFFICER, "4601", "市值班员 周"),
    ("leader", Role.TEAM_LEADER, "460105001", "流调队长 李"),
    ("field", Role.FIELD_STAFF, "460105001001", "网格员 张"),
    ("expert", Role.CDC_EXPERT, "460105", "疾控专家 陈"),
    ("commander", Role.COMMANDER, "4601", "指挥长 刘"),
    ("auditor", Role.AUDITOR, "46", "审计员 赵"),
    ("admin", Role.ADMIN, "46", "管理员 孙"),
]
DEMO_PASSWORD = "Demo-Tracing-2026"


class Command(BaseCommand):
    help = (
        "Create one demo account per role and demo data for every page (idempotent), and print the "
        "accounts grouped by role with their password. Demo only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-data", action="store_true", help="accounts only, no demo leads and tasks")

    @transaction.atomic
    def handle(self, *args, no_data: bool = False, **options):
        for username, role, code, full_name in DEMO_ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"role": role, "division_id": code, "full_name": full_name}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = role == Role.ADMIN
                user.save()
            unit_kind = {
                Role.TEAM_LEADER: Unit.Kind.TEAM,
                Role.FIELD_STAFF: Unit.Kind.SUBUNIT,
                Role.DUTY_OFFICER: Unit.Kind.DUTY_DESK,
            }.get(role)
            if unit_kind:
                unit = Unit.objects.filter(division_id=code, kind=unit_kind).first()
                if unit:
                    UnitMembership.objects.get_or_create(unit=unit, user=user)
                    if role == Role.TEAM_LEADER and unit.leader_id is None:
                        unit.leader = user
                        unit.save(update_fields=["leader"])
        from ._demo_data import seed_demo_roster

        if seed_demo_roster():
            self.stdout.write("Demo roster: a week of day and night shifts at the county desk.")
        if not no_data:
            from ._demo_data import seed_demo_data

            if seed_demo_data():
                self.stdout.write("Demo data: leads, an intake batch, tasks, reviews and a notice created.")
            from ._demo_accounts import seed_onboarded_accounts

            if seed_onboarded_accounts(DEMO_PASSWORD):
                self.stdout.write("Demo data: onboarded grid workers (the administrator's activation rate).")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}), by role:")
        for role in dict.fromkeys(role for _u, role, _c, _n in DEMO_ACCOUNTS):
            self.stdout.write(f"  {Role(role).label}:")
            for username, account_role, code, full_name in DEMO_ACCOUNTS:
                if account_role == role:
                    self.stdout.write(f"    {username:<10} scope {code:<12} {full_name}")
        # Issue 9: these roles need a second factor. Each gets a confirmed TOTP device; add its URI to an
        # authenticator app, or print the current code with `manage.py totp_code USERNAME` (DEBUG only).
        needing = [(username, User.objects.get(username=username)) for username, *_rest in DEMO_ACCOUNTS]
        needing = [(username, user) for username, user in needing if otp_required(user)]
        if needing:
            self.stdout.write(
                "Two-factor login (TOTP) for these accounts; add the URI to an authenticator app:"
            )
            for username, user in needing:
                device = ensure_confirmed_device(user)
                self.stdout.write(f"  {username:<10} {device.config_url}")
            self.stdout.write("Or print the current code: python manage.py totp_code USERNAME")
