"""Account services: provisioning (one person, one account) and one-time activation codes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ActivationCode, Division, Role, User, normalize_code

# Unambiguous characters only: the code is read out over the phone or copied from paper.
ACTIVATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


@transaction.atomic
def account_create(
    *,
    username: str,
    role: str,
    division_code: str,
    full_name: str = "",
    password: str | None = None,
    phone: str = "",
) -> User:
    """Create an account. Without a password the account is inactive until activated with a code."""
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [
            _("unknown role %(role)s; use one of: %(roles)s")
            % {"role": role, "roles": ", ".join(Role.values)}
        ]
    try:
        code = normalize_code(division_code)
        division = Division.objects.get(code=code)
    except ValueError as exc:
        errors["division"] = [str(exc)]
    except Division.DoesNotExist:
        errors["division"] = [_("no division has code %(code)s") % {"code": division_code}]
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("an account named %(username)s already exists") % {"username": username}]
    phone = phone.strip()
    # One person, one account (issue 9; also a database constraint): a work phone names one active account.
    if phone and User.objects.filter(phone=phone, is_active=True).exists():
        errors["phone"] = [_("another active account already has this work phone")]
    if errors:
        raise ValidationError(errors)
    user = User(username=username, role=role, division=division, full_name=full_name, phone=phone)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
        user.is_active = False
    user.save()
    return user


def activation_code_issue(*, user: User, purpose: str = ActivationCode.Purpose.ACTIVATION) -> str:
    """Issue a fresh code (earlier unused ones of the same purpose stop working) and return it; only
    its hash is kept."""
    raw = "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(12))
    now = timezone.now()
    with transaction.atomic():
        ActivationCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(expires_at=now)
        ActivationCode.objects.create(
            user=user,
            purpose=purpose,
            code_hash=_hash_code(raw),
            expires_at=now + settings.ACTIVATION_CODE_TTL,
        )
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def enrolment_code_issue(*, user: User) -> str:
    """A one-time code the administrator hands to the owner of a two-factor account, to enrol its
    authenticator (an account created with a password, or after a second-factor reset)."""
    return activation_code_issue(user=user, purpose=ActivationCode.Purpose.ENROLMENT)


@transaction.atomic
def enrolment_code_consume(*, user: User, code: str, now: datetime | None = None) -> bool:
    """Use up `user`'s enrolment code `code`: whether it was valid (unused, unexpired, theirs)."""
    now = now or timezone.now()
    return bool(
        ActivationCode.objects.filter(
            user=user,
            purpose=ActivationCode.Purpose.ENROLMENT,
            code_hash=_hash_code(code or ""),
            used_at__isnull=True,
            expires_at__gt=now,
        ).update(used_at=now)
    )


@transaction.atomic
def account_activate(*, username: str, code: str, password: str) -> User:
    """Consume a code and set the password. The same error for every wrong case, so the form does not
    reveal which accounts exist."""
    invalid = ValidationError({"code": [_("this activation code is not valid or has expired")]})
    now = timezone.now()
    activation = (
        ActivationCode.objects.select_for_update()
        .select_related("user")
        .filter(
            code_hash=_hash_code(code),
            purpose=ActivationCode.Purpose.ACTIVATION,
            user__username=username,
            used_at__isnull=True,
            expires_at__gt=now,
        )
        .first()
    )
    if activation is None:
        raise invalid
    user = activation.user
    if user.phone and User.objects.filter(phone=user.phone, is_active=True).exclude(pk=user.pk).exists():
        raise ValidationError({"phone": [_("another active account already has this work phone")]})
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    activation.used_at = now
    activation.save(update_fields=["used_at"])
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    return user
