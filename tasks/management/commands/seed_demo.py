from django.core.management.base import BaseCommand
from django.db import transaction

from tasks.models import Role, Unit, UnitMembership, User
from tasks.security import otp_required
from tasks.twofactor import ensure_confirmed_device

# One account per role in 海口市秀英区 (Hainan), matching the demo territory shipped with the project.
DEMO_ACCOUNTS = [
    ("duty", Role.DUTY_OFFICER, "460105", "值班员 王"),
    ("leader", Role.TEAM_LEADER, "460105001", "流调队长 李"),
    ("field", Role.FIELD_STAFF, "460105001001", "网格员 张"),
    ("expert", Role.CDC_EXPERT, "460105", "疾控专家 陈"),
    ("commander", Role.COMMANDER, "4601", "指挥长 刘"),
    ("auditor", Role.AUDITOR, "46", "审计员 赵"),
    ("admin", Role.ADMIN, "46", "管理员 孙"),
]
DEMO_PASSWORD = "Demo-Tracing-2026"


class Command(BaseCommand):
    help = "Create one demo account per role (idempotent) and print them with their password. Demo only."

    @transaction.atomic
    def handle(self, *args, **options):
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
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, role, code, full_name in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<10} {role:<13} scope {code}  {full_name}")
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
