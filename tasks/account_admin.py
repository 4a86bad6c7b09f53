"""Account administration in the app: the administrator's list, changes, bulk onboarding from a CSV of
staff, printable activation slips and the activation rate per division.

Territory is the same rule as everywhere: an administrator sees and changes only accounts whose scope
lies inside their own (`selectors.accounts_visible_to`), and never grants a scope wider than their own.
Every change is a django-auditlog entry with the old and the new values: single changes through the
model's save (the auditlog middleware names the actor), bulk onboarding and second-factor resets with
entries written here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Left, Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from .accounts import ACTIVATION_ALPHABET, _hash_code, enrolment_code_issue
from .models import ActivationCode, Division, Role, Unit, UnitMembership, User, normalize_code
from .roles import can
from .selectors import accounts_visible_to, in_scope, scope_code
from .validation import clean_phone

# The columns of the staff file (its own words, in English); `username` is optional: by default the
# work phone is the username, which is what grid workers remember.
ONBOARD_REQUIRED = ("name", "phone", "role", "division_code")
ONBOARD_OPTIONAL = ("username",)
ONBOARD_MAX_ROWS = 5000
# The unit a new account joins so that dispatch finds it: a grid worker in their village's sub-unit,
# a team leader in their township's team.
UNIT_OF_ROLE: dict[str, tuple[str, int]] = {
    Role.FIELD_STAFF: (Unit.Kind.SUBUNIT, 12),
    Role.TEAM_LEADER: (Unit.Kind.TEAM, 9),
}


def require_manager(user) -> None:
    if not can(user, "account.manage"):
        raise PermissionDenied


def managed_accounts(admin):
    """The accounts `admin` may see and change (superusers are the deployment's, never listed)."""
    require_manager(admin)
    return accounts_visible_to(admin).select_related("division")


def _scope_division(admin, raw: str, *, field_name: str = "division") -> Division:
    """The division of code `raw`, inside `admin`'s territory, else a ValidationError on `field_name`."""
    try:
        code = normalize_code(raw)
    except ValueError as exc:
        raise ValidationError({field_name: [str(exc)]}) from None
    division = Division.objects.filter(code=code).first()
    if division is None:
        raise ValidationError({field_name: [_("no division has code %(code)s") % {"code": code}]})
    if not in_scope(admin, division.code):
        raise ValidationError(
            {field_name: [_("%(code)s is outside your territory: you cannot grant it") % {"code": code}]}
        )
    return division


def _role(raw: str) -> str:
    """A role from its code (`field_staff`) or its label in English or Chinese (网格员)."""
    from django.utils import translation

    value = (raw or "").strip()
    if value in Role.values:
        return value
    for code, label in Role.choices:
        names = {str(label).lower()}
        with translation.override("zh-hans"):
            names.add(str(Role(code).label))
        if value.lower() in names:
            return code
    raise ValueError(
        _("unknown role %(role)s; use one of: %(roles)s")
        % {"role": value, "roles": ", ".join(f"{label} ({code})" for code, label in Role.choices)}
    )


def _join_unit(users: list[User]) -> None:
    """Put new or moved field accounts into the unit of their division (set-based)."""
    wanted: dict[tuple[str, str], list[int]] = {}
    for user in users:
        kind_len = UNIT_OF_ROLE.get(user.role)
        code = user.division_id or ""
        if kind_len and len(code) == kind_len[1]:
            wanted.setdefault((kind_len[0], code), []).append(user.pk)
    if not wanted:
        return
    units = Unit.objects.filter(
        Q(*[Q(kind=kind, division_id=code) for kind, code in wanted], _connector=Q.OR)
    ).values_list("pk", "kind", "division_id")
    rows = [
        UnitMembership(unit_id=pk, user_id=uid)
        for pk, kind, code in units
        for uid in wanted.get((kind, code), [])
    ]
    UnitMembership.objects.bulk_create(rows, ignore_conflicts=True)


# --- single changes --------------------------------------------------------------------------------


def account_create_in_scope(
    *, admin, username: str, full_name: str, role: str, division_code: str, phone: str
) -> tuple[User, str]:
    """Create an inactive account inside `admin`'s territory and its activation code: (account, code)."""
    from .accounts import account_create, activation_code_issue

    require_manager(admin)
    errors: dict[str, list[str]] = {}
    try:
        _scope_division(admin, division_code)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if phone.strip():
        try:
            phone = clean_phone(phone)
        except ValueError as exc:
            errors["phone"] = [str(exc)]
    if not full_name.strip():
        errors["full_name"] = [_("give the person's name")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user = account_create(
            username=username.strip(),
            role=role,
            division_code=division_code,
            full_name=full_name.strip(),
            phone=phone,
        )
        _join_unit([user])
        code = activation_code_issue(user=user)
    return user, code


def account_change(
    *, admin, account: User, role: str, division_code: str, full_name: str, phone: str
) -> User:
    """Change role, scope, name or work phone. The scope stays inside `admin`'s territory; an
    administrator does not change their own role or scope (another administrator does)."""
    require_manager(admin)
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [
            _("unknown role %(role)s; use one of: %(roles)s")
            % {"role": role, "roles": ", ".join(Role.values)}
        ]
    division = None
    try:
        division = _scope_division(admin, division_code)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if account.pk == admin.pk and (
        role != account.role or (division and division.code != account.division_id)
    ):
        errors["role"] = [_("you cannot change your own role or scope; ask another administrator")]
    phone = phone.strip()
    if phone:
        try:
            phone = clean_phone(phone)
        except ValueError as exc:
            errors["phone"] = [str(exc)]
        else:
            if (
                account.is_active
                and User.objects.filter(phone=phone, is_active=True).exclude(pk=account.pk).exists()
            ):
                errors["phone"] = [_("another active account already has this work phone")]
    if not full_name.strip():
        errors["full_name"] = [_("give the person's name")]
    if errors:
        raise ValidationError(errors)
    assert division is not None
    moved = division.code != account.division_id or role != account.role
    with transaction.atomic():
        account.role, account.division, account.full_name, account.phone = (
            role,
            division,
            full_name.strip(),
            phone,
        )
        account.save(update_fields=["role", "division", "full_name", "phone"])
        if moved:
            # Units outside the new scope no longer send it work.
            UnitMembership.objects.filter(user=account).exclude(
                unit__division__code__startswith=division.code
            ).delete()
            _join_unit([account])
    return account


def account_set_active(*, admin, account: User, active: bool) -> User:
    require_manager(admin)
    if account.pk == admin.pk and not active:
        raise ValidationError({"account": [_("you cannot deactivate your own account")]})
    if active:
        if not account.has_usable_password():
            raise ValidationError(
                {"account": [_("this account was never activated: print a new activation slip instead")]}
            )
        if (
            account.phone
            and User.objects.filter(phone=account.phone, is_active=True).exclude(pk=account.pk).exists()
        ):
            raise ValidationError({"phone": [_("another active account already has this work phone")]})
    if account.is_active != active:
        account.is_active = active
        # Deactivation revokes the account's API tokens (tasks/tokens.py, on save).
        account.save(update_fields=["is_active"])
    return account


def second_factor_reset(*, admin, account: User, now: datetime | None = None) -> str:
    """Delete the account's authenticator and issue an enrolment code: at the next login the owner
    enrols again with that code (tasks/twofactor.py). Returns the code (shown once)."""
    from auditlog.models import LogEntry
    from django_otp.plugins.otp_totp.models import TOTPDevice

    require_manager(admin)
    with transaction.atomic():
        devices = list(TOTPDevice.objects.filter(user=account))
        had = any(device.confirmed for device in devices)
        for device in devices:
            # One by one: the post_delete signal revokes the account's API tokens.
            device.delete()
        code = enrolment_code_issue(user=account)
        LogEntry.objects.log_create(
            account,
            action=LogEntry.Action.UPDATE,
            changes={"second_factor": ["enrolled" if had else "not enrolled", "reset"]},
            actor=admin,
            force_log=True,
            timestamp=now or timezone.now(),
        )
    return code


def activation_codes_issue(*, admin, accounts: list[User], now: datetime | None = None) -> dict[int, str]:
    """New activation codes for inactive accounts (earlier unused ones stop working), in sets:
    {account id: code}."""
    import secrets

    require_manager(admin)
    now = now or timezone.now()
    ids = [a.pk for a in accounts if not a.is_active]
    codes = {uid: "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(12)) for uid in ids}
    with transaction.atomic():
        ActivationCode.objects.filter(
            user_id__in=ids, purpose=ActivationCode.Purpose.ACTIVATION, used_at__isnull=True
        ).update(expires_at=now)
        ActivationCode.objects.bulk_create(
            [
                ActivationCode(
                    user_id=uid,
                    purpose=ActivationCode.Purpose.ACTIVATION,
                    code_hash=_hash_code(raw),
                    expires_at=now + settings.ACTIVATION_CODE_TTL,
                )
                for uid, raw in codes.items()
            ]
        )
    return {uid: f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" for uid, raw in codes.items()}


# --- bulk onboarding -------------------------------------------------------------------------------


class StaffFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing columns, too many rows)."""


@dataclass
class StaffRow:
    line: int  # the line in the file (the header is line 1)
    name: str = ""
    phone: str = ""
    role: str = ""
    division_code: str = ""
    username: str = ""
    division_name: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role in Role.values else self.role


@dataclass
class StaffPreview:
    valid: list[StaffRow]
    rejected: list[StaffRow]

    @property
    def rows(self) -> int:
        return len(self.valid) + len(self.rejected)


def _decode(data: bytes) -> str:
    # Excel in China saves CSV in GB18030 unless told otherwise.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StaffFileError(_("the file is neither UTF-8 nor GB18030 text"))


def staff_preview(admin, data: bytes) -> StaffPreview:
    """Read and check every row of a staff CSV; nothing is written. Each rejected row names its line
    and, per field, why."""
    require_manager(admin)
    reader = csv.DictReader(io.StringIO(_decode(data)))
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in ONBOARD_REQUIRED if name not in header]
    if missing:
        raise StaffFileError(
            _("the first row must name the columns; missing: %(columns)s") % {"columns": ", ".join(missing)}
        )
    reader.fieldnames = header
    rows: list[StaffRow] = []
    for number, record in enumerate(reader, start=2):
        if len(rows) >= ONBOARD_MAX_ROWS:
            raise StaffFileError(_("at most %(n)d rows per file") % {"n": ONBOARD_MAX_ROWS})
        values = {key: (value or "").strip() for key, value in record.items() if isinstance(key, str)}
        if not any(values.values()):
            continue
        rows.append(
            StaffRow(
                line=number,
                name=values.get("name", ""),
                phone=values.get("phone", ""),
                role=values.get("role", ""),
                division_code=values.get("division_code", ""),
                username=values.get("username", ""),
            )
        )
    _check_rows(admin, rows)
    return StaffPreview(valid=[r for r in rows if not r.errors], rejected=[r for r in rows if r.errors])


def _check_rows(admin, rows: list[StaffRow]) -> None:
    prefix = scope_code(admin) or ""
    codes: set[str] = set()
    for row in rows:
        if not row.name:
            row.errors["name"] = [_("the name is empty")]
        elif len(row.name) > 50:
            row.errors["name"] = [_("at most 50 characters")]
        try:
            row.phone = clean_phone(row.phone) if row.phone else ""
            if not row.phone:
                row.errors["phone"] = [_("the work phone is empty")]
        except ValueError as exc:
            row.errors["phone"] = [str(exc)]
        try:
            row.role = _role(row.role)
        except ValueError as exc:
            row.errors["role"] = [str(exc)]
        try:
            row.division_code = normalize_code(row.division_code)
            codes.add(row.division_code)
        except ValueError as exc:
            row.errors["division_code"] = [str(exc)]
        if not row.username and "phone" not in row.errors:
            row.username = row.phone.lstrip("+")
    names = dict(Division.objects.filter(code__in=codes).values_list("code", "name"))
    usernames = {r.username.lower() for r in rows if r.username}
    # Usernames are unique case-insensitively (tasks/accounts.py).
    taken_usernames = set(
        User.objects.annotate(lowered=Lower("username"))
        .filter(lowered__in=usernames)
        .values_list("lowered", flat=True)
    )
    phones = [r.phone for r in rows if r.phone and "phone" not in r.errors]
    active_phones = set(User.objects.filter(phone__in=phones, is_active=True).values_list("phone", flat=True))
    seen_phone: dict[str, int] = {}
    seen_username: dict[str, int] = {}
    for row in rows:
        if "division_code" not in row.errors:
            if row.division_code not in names:
                row.errors["division_code"] = [
                    _("no division has code %(code)s") % {"code": row.division_code}
                ]
            elif not row.division_code.startswith(prefix):
                row.errors["division_code"] = [
                    _("%(code)s is outside your territory") % {"code": row.division_code}
                ]
            else:
                row.division_name = names[row.division_code]
        if "phone" not in row.errors:
            if row.phone in active_phones:
                row.errors["phone"] = [_("another active account already has this work phone")]
            elif row.phone in seen_phone:
                row.errors["phone"] = [_("the same phone as line %(line)d") % {"line": seen_phone[row.phone]}]
            else:
                seen_phone[row.phone] = row.line
        if row.username:
            key = row.username.lower()
            if len(row.username) > 150:
                row.errors["username"] = [_("at most 150 characters")]
            elif key in taken_usernames:
                row.errors["username"] = [
                    _("an account named %(username)s already exists") % {"username": row.username}
                ]
            elif key in seen_username:
                row.errors["username"] = [
                    _("the same username as line %(line)d") % {"line": seen_username[key]}
                ]
            else:
                seen_username[key] = row.line


@transaction.atomic
def staff_onboard(admin, rows: list[StaffRow], *, now: datetime | None = None) -> list[tuple[User, str]]:
    """Create the checked rows as inactive accounts, each with an activation code, in sets (accounts,
    codes, unit memberships and their audit entries: one statement each). Returns (account, code)."""
    from auditlog.models import LogEntry

    require_manager(admin)
    now = now or timezone.now()
    users = User.objects.bulk_create(
        [
            User(
                username=row.username,
                full_name=row.name,
                phone=row.phone,
                role=row.role,
                division_id=row.division_code,
                is_active=False,
                password=make_password(None),
                date_joined=now,
            )
            for row in rows
        ]
    )
    codes = activation_codes_issue(admin=admin, accounts=users, now=now)
    _join_unit(users)
    content_type = ContentType.objects.get_for_model(User)
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=content_type,
                object_pk=str(user.pk),
                object_id=user.pk,
                object_repr=str(user),
                action=LogEntry.Action.CREATE,
                # In django-auditlog's own form: values as text, "None" before a creation.
                changes={
                    "username": ["None", user.username],
                    "full_name": ["None", user.full_name],
                    "role": ["None", user.role],
                    "division": ["None", user.division_id],
                    "phone": ["None", user.phone],
                    "is_active": ["None", "False"],
                },
                actor=admin,
                timestamp=now,
                additional_data={"via": "onboarding"},
            )
            for user in users
        ]
    )
    return [(user, codes[user.pk]) for user in users]


# --- activation rate -------------------------------------------------------------------------------

RATE_LEVELS = {"county": 6, "township": 9}


@dataclass
class RateRow:
    code: str
    name: str
    onboarded: int
    activated: int

    @property
    def rate(self) -> float | None:
        return self.activated / self.onboarded if self.onboarded else None

    @property
    def percent(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.1f}%"


def activation_rate(admin, *, level: str = "county") -> tuple[list[RateRow], RateRow]:
    """Per county (or township) of `admin`'s territory: accounts onboarded with an activation code, and
    how many of them activated (used it). Accounts scoped above that level count under their own
    division. Returns (rows, total)."""
    length = RATE_LEVELS.get(level, 6)
    onboarded = managed_accounts(admin).filter(activation_codes__purpose=ActivationCode.Purpose.ACTIVATION)
    grouped = (
        onboarded.annotate(area=Left("division_id", length))
        .values("area")
        .annotate(
            onboarded=Count("pk", distinct=True),
            activated=Count(
                "pk",
                distinct=True,
                filter=Q(
                    activation_codes__purpose=ActivationCode.Purpose.ACTIVATION,
                    activation_codes__used_at__isnull=False,
                ),
            ),
        )
        .order_by("area")
    )
    data = list(grouped)
    names = dict(Division.objects.filter(code__in=[d["area"] for d in data]).values_list("code", "name"))
    rows = [RateRow(d["area"], names.get(d["area"], d["area"]), d["onboarded"], d["activated"]) for d in data]
    total = RateRow("", _("Total"), sum(r.onboarded for r in rows), sum(r.activated for r in rows))
    return rows, total


# --- activation slips ------------------------------------------------------------------------------


def activation_url(base_url: str, account: User, code: str) -> str:
    """The activation page with the username and the code filled in (what the slip's QR code holds)."""
    from django.urls import reverse
    from django.utils.http import urlencode

    return f"{base_url.rstrip('/')}{reverse('activate')}?{urlencode({'username': account.username, 'code': code})}"


def slips_pdf(*, admin, slips: list[tuple[User, str]], base_url: str, now: datetime | None = None) -> bytes:
    """One slip per account (cut along the dashed lines): name, username, role, division, the code in
    text and a QR code of the activation URL. Chinese in Noto Sans CJK (fonts-noto-cjk), embedded by
    WeasyPrint as in the report PDFs."""
    from pathlib import Path

    import segno
    from django.contrib.staticfiles import finders
    from django.template.loader import render_to_string
    from weasyprint import CSS, HTML

    # Every ancestor of every slip's division, named in one query.
    chains = {
        u.division_id: [u.division_id[:n] for n in (2, 4, 6, 9, 12) if n <= len(u.division_id)]
        for u, _code in slips
        if u.division_id
    }
    names = dict(
        Division.objects.filter(code__in={c for chain in chains.values() for c in chain}).values_list(
            "code", "name"
        )
    )
    entries = []
    for account, code in slips:
        url = activation_url(base_url, account, code)
        entries.append(
            {
                "account": account,
                "code": code,
                "url": url,
                "qr": segno.make(url, error="m").svg_data_uri(scale=3, border=2),
                "division": " / ".join(names.get(c, c) for c in chains.get(account.division_id or "", [])),
            }
        )
    html = render_to_string(
        "accounts/slips_pdf.html",
        {
            "slips": entries,
            "printed_at": timezone.localtime(now or timezone.now()),
            "expires_hours": int(settings.ACTIVATION_CODE_TTL.total_seconds() // 3600),
            "admin": admin,
        },
    )
    css_path = finders.find("accounts/slips.css")
    document = HTML(string=html, base_url=str(Path(settings.BASE_DIR))).render(
        stylesheets=[CSS(filename=css_path)]
    )
    return document.write_pdf()
