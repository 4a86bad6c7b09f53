"""Demo data of account administration: grid workers onboarded with activation codes, some of them
activated, so that the administrator's activation rate has figures (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tasks.account_admin import _join_unit
from tasks.accounts import _hash_code
from tasks.models import ActivationCode, Division, Role, User

# (username, name, village, activated)
ONBOARDED = [
    ("13900460001", "网格员 吴", "460105001001", True),
    ("13900460002", "网格员 郑", "460105001002", True),
    ("13900460003", "网格员 冯", "460105001002", False),
    ("13900460004", "网格员 陈", "460105002001", True),
    ("13900460005", "网格员 褚", "460105002001", False),
]


def seed_onboarded_accounts(password: str) -> int:
    """Create the onboarded demo accounts that do not exist yet; returns how many were created."""
    now = timezone.now()
    known = set(
        Division.objects.filter(code__in=[v for _u, _n, v, _a in ONBOARDED]).values_list("code", flat=True)
    )
    created = []
    for username, name, village, activated in ONBOARDED:
        if village not in known or User.objects.filter(username=username).exists():
            continue
        user = User(
            username=username, full_name=name, role=Role.FIELD_STAFF, division_id=village, phone=username
        )
        if activated:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.is_active = activated
        user.save()
        ActivationCode.objects.create(
            user=user,
            code_hash=_hash_code(f"DEMO{username}"),
            expires_at=now + timedelta(days=3),
            used_at=now - timedelta(hours=2) if activated else None,
        )
        created.append(user)
    _join_unit(created)
    return len(created)
