"""The administrator's account pages: the list with the activation rate, create, change, deactivate and
reactivate, second-factor reset, bulk onboarding from a CSV and the activation slips (PDF).

Outside the administrator's territory an account does not exist (404); services in tasks/account_admin.py.
"""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import account_admin as svc
from ..exports import csv_lines
from ..models import Role, User

PAGE_SIZE = 50
MAX_STAFF_FILE_BYTES = 2 * 1024 * 1024
UPLOAD_DIR = "account_uploads"
SESSION_UPLOAD = "account_onboard_upload"
# The codes of the last onboarding, kept in this (server-side) session only until its slips are
# downloaded again or the next onboarding: the database keeps only their hashes.
SESSION_SLIPS = "account_onboard_slips"

STATUS_CHOICES = [
    ("", gettext_lazy("all")),
    ("active", gettext_lazy("active")),
    ("pending", gettext_lazy("waiting for activation")),
    ("inactive", gettext_lazy("deactivated")),
]


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _account_or_404(request, pk: int) -> User:
    account = svc.managed_accounts(request.user).filter(pk=pk).first()
    if account is None:
        raise Http404
    return account


def _filtered(request):
    accounts = svc.managed_accounts(request.user).annotate(
        enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    )
    params = {
        "q": request.GET.get("q", "").strip(),
        "role": request.GET.get("role", ""),
        "status": request.GET.get("status", ""),
        "division": request.GET.get("division", "").strip(),
    }
    if params["q"]:
        q = params["q"]
        accounts = accounts.filter(
            Q(username__icontains=q) | Q(full_name__icontains=q) | Q(phone__contains=q)
        )
    if params["role"] in Role.values:
        accounts = accounts.filter(role=params["role"])
    else:
        params["role"] = ""
    if params["status"] == "active":
        accounts = accounts.filter(is_active=True)
    elif params["status"] == "pending":
        accounts = accounts.filter(is_active=False, password__startswith="!")
    elif params["status"] == "inactive":
        accounts = accounts.filter(is_active=False).exclude(password__startswith="!")
    else:
        params["status"] = ""
    if params["division"].isdigit():
        accounts = accounts.filter(division_id__startswith=params["division"])
    else:
        params["division"] = ""
    return accounts.order_by("division_id", "role", "username"), params


@login_required
@require_http_methods(["GET"])
def account_list(request):
    accounts, params = _filtered(request)
    level = request.GET.get("level", "county")
    level = level if level in svc.RATE_LEVELS else "county"
    rate_rows, rate_total = svc.activation_rate(request.user, level=level)
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = urlencode({k: v for k, v in {**params, "level": level}.items() if v})
    return render(
        request,
        "accounts/list.html",
        {
            "accounts": page.object_list,
            "page": page,
            "params": params,
            "level": level,
            "keep": keep,
            "roles": Role.choices,
            "statuses": STATUS_CHOICES,
            "otp_roles": set(settings.OTP_REQUIRED_ROLES),
            "rate_rows": rate_rows,
            "rate_total": rate_total,
            "scope_path": request.user.division.path_name() if request.user.division_id else "",
        },
    )


@login_required
@require_http_methods(["GET"])
def account_activation_export(request):
    level = request.GET.get("level", "county")
    level = level if level in svc.RATE_LEVELS else "county"
    rows, total = svc.activation_rate(request.user, level=level)
    header = [_("Division code"), _("Division"), _("Onboarded"), _("Activated"), _("Activation rate")]
    body = [[r.code, r.name, r.onboarded, r.activated, r.percent] for r in [*rows, total]]
    response = StreamingHttpResponse(csv_lines(header, body), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="activation-{level}-{stamp}.csv"'
    return response


class AccountForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Name"), max_length=50)
    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        required=False,
        help_text=gettext_lazy("empty: the work phone"),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)
    division = forms.CharField(
        label=gettext_lazy("Scope (division code)"),
        max_length=12,
        help_text=gettext_lazy("the village of a grid worker, the township of a team, the county of a desk"),
    )
    phone = forms.CharField(label=gettext_lazy("Work phone"), max_length=20, required=False)


def _phone_username(phone: str) -> str:
    """The default username: the work phone as stored (a grid worker logs in with it)."""
    from ..validation import clean_phone

    try:
        return clean_phone(phone).lstrip("+") if phone.strip() else ""
    except ValueError:
        return ""


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    aliases = {"division_code": "division", "account": None}
    for name, errors in exc.message_dict.items():
        target = aliases.get(name, name)
        for error in errors:
            form.add_error(target if target in form.fields else None, error)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_create(request):
    svc.require_manager(request.user)
    form = AccountForm(request.POST or None, initial={"division": request.user.division_id or ""})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        username = data["username"].strip() or _phone_username(data["phone"])
        if not username:
            form.add_error("username", _("give a username or a work phone"))
        else:
            try:
                account, code = svc.account_create_in_scope(
                    admin=request.user,
                    username=username,
                    full_name=data["full_name"],
                    role=data["role"],
                    division_code=data["division"],
                    phone=data["phone"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                request.session[SESSION_SLIPS] = [[account.pk, code]]
                messages.success(
                    request,
                    _("Account %(username)s created; it waits for activation with its slip.")
                    % {"username": account.username},
                )
                return render(
                    request, "accounts/created.html", {"created": [(account, code)], "single": True}
                )
    return render(request, "accounts/form.html", {"form": form, "creating": True})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request, pk: int):
    account = _account_or_404(request, pk)
    initial = {
        "full_name": account.full_name,
        "username": account.username,
        "role": account.role,
        "division": account.division_id,
        "phone": account.phone,
    }
    form = AccountForm(request.POST or None, initial=initial)
    form.fields["username"].disabled = True
    form.fields["username"].help_text = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            svc.account_change(
                admin=request.user,
                account=account,
                role=data["role"],
                division_code=data["division"],
                full_name=data["full_name"],
                phone=data["phone"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Changes to %(username)s saved.") % {"username": account.username})
            return redirect("account_edit", pk=account.pk)
    return render(
        request,
        "accounts/form.html",
        {"form": form, "own": account.pk == request.user.pk, **_account_context(account)},
    )


def _account_context(account: User) -> dict:
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    history = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User), object_pk=str(account.pk)
        )
        .select_related("actor")
        .order_by("-timestamp", "-id")[:20]
    )
    return {
        "account": account,
        "history": [{"entry": entry, "changes": _readable_changes(entry.changes_dict)} for entry in history],
        "enrolled": TOTPDevice.objects.filter(user=account, confirmed=True).exists(),
        "pending": not account.is_active and not account.has_usable_password(),
    }


def _readable_changes(changes: dict) -> list[tuple[str, str, str]]:
    """(field, old, new) in words: role codes, booleans and second-factor states are never shown raw."""
    from ..templatetags.labels import ACCOUNT_FIELDS

    states = {
        "enrolled": _("enrolled"),
        "not enrolled": _("not enrolled"),
        "reset": _("reset"),
        "True": _("yes"),
        "False": _("no"),
        "None": "",
    }

    def word(name: str, value) -> str:
        text = "" if value is None else str(value)
        if name == "role" and text in Role.values:
            return str(Role(text).label)
        return str(states.get(text, text))

    rows = []
    for name, values in (changes or {}).items():
        # Only what an administrator manages; Django's unused columns (email, is_staff, …) stay out.
        if name not in ACCOUNT_FIELDS:
            continue
        old, new = (list(values) + [None, None])[:2] if isinstance(values, list | tuple) else (None, values)
        rows.append((str(ACCOUNT_FIELDS.get(name, name)), word(name, old) or "—", word(name, new) or "—"))
    return rows


@login_required
@require_POST
def account_deactivate(request, pk: int):
    return _set_active(request, pk, active=False)


@login_required
@require_POST
def account_reactivate(request, pk: int):
    return _set_active(request, pk, active=True)


def _set_active(request, pk: int, *, active: bool):
    account = _account_or_404(request, pk)
    try:
        svc.account_set_active(admin=request.user, account=account, active=active)
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
    else:
        text = _("%(username)s reactivated.") if active else _("%(username)s deactivated.")
        messages.success(request, text % {"username": account.username})
    return redirect("account_edit", pk=account.pk)


@never_cache
@login_required
@require_POST
def account_reset_second_factor(request, pk: int):
    account = _account_or_404(request, pk)
    code = svc.second_factor_reset(admin=request.user, account=account)
    messages.success(
        request,
        _(
            "The second factor of %(username)s is reset: at the next login they enrol again with the code below."
        )
        % {"username": account.username},
    )
    return render(
        request, "accounts/form.html", {"form": None, "enrolment_code": code, **_account_context(account)}
    )


@never_cache
@login_required
@require_POST
def account_slip(request, pk: int):
    """A new activation slip for an account waiting for activation (the earlier code stops working)."""
    account = _account_or_404(request, pk)
    if account.is_active or account.has_usable_password():
        messages.error(request, _("Only an account waiting for activation gets an activation slip."))
        return redirect("account_edit", pk=account.pk)
    codes = svc.activation_codes_issue(admin=request.user, accounts=[account])
    return _pdf_response(request, [(account, codes[account.pk])], f"activation-{account.username}.pdf")


def _pdf_response(request, slips, filename: str) -> HttpResponse:
    pdf = svc.slips_pdf(admin=request.user, slips=slips, base_url=_base_url(request))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class StaffFileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file of staff"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError(_("only .csv files are read"))
        if upload.size > MAX_STAFF_FILE_BYTES:
            raise forms.ValidationError(_("the file is larger than 2 MB: split it"))
        return upload


def _upload_path(token: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{token}.csv"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_onboard(request):
    """Step 1: a CSV of staff → preview (nothing written; every rejected row with its line and field).
    Step 2: confirm → the valid rows become inactive accounts with an activation code each."""
    svc.require_manager(request.user)
    pending = request.session.get(SESSION_UPLOAD)
    action = request.POST.get("action") if request.method == "POST" else None
    if action in ("confirm", "cancel"):
        token = request.POST.get("token", "")
        if not pending or not secrets.compare_digest(pending.get("token", ""), token):
            messages.error(request, _("This preview has expired: upload the file again."))
            return redirect("account_onboard")
        path = _upload_path(token)
        request.session.pop(SESSION_UPLOAD, None)
        try:
            if action == "cancel":
                return redirect("account_onboard")
            # Checked again: accounts may have been created since the preview.
            preview = svc.staff_preview(request.user, path.read_bytes())
        except (svc.StaffFileError, FileNotFoundError, csv.Error) as exc:
            messages.error(request, str(exc))
            return redirect("account_onboard")
        finally:
            path.unlink(missing_ok=True)
        created = svc.staff_onboard(request.user, preview.valid)
        request.session[SESSION_SLIPS] = [[account.pk, code] for account, code in created]
        messages.success(
            request,
            _("%(created)d accounts created, %(rejected)d rows rejected.")
            % {"created": len(created), "rejected": len(preview.rejected)},
        )
        return render(
            request,
            "accounts/created.html",
            {"created": created, "rejected": preview.rejected, "single": False},
        )
    form = StaffFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            preview = svc.staff_preview(request.user, data)
        except (svc.StaffFileError, csv.Error) as exc:
            form.add_error("file", str(exc))
        else:
            token = secrets.token_urlsafe(16)
            path = _upload_path(token)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if pending:
                _upload_path(pending["token"]).unlink(missing_ok=True)
            request.session[SESSION_UPLOAD] = {"token": token, "name": form.cleaned_data["file"].name}
            return render(
                request,
                "accounts/onboard_preview.html",
                {"preview": preview, "token": token, "name": form.cleaned_data["file"].name},
            )
    return render(
        request,
        "accounts/onboard.html",
        {
            "form": form,
            "columns": ", ".join([*svc.ONBOARD_REQUIRED, *svc.ONBOARD_OPTIONAL]),
            "roles": Role.choices,
        },
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def account_onboard_slips(request):
    """The slips of the last onboarding (or creation) in this session, for the accounts still waiting
    for activation inside the administrator's territory."""
    svc.require_manager(request.user)
    kept = {int(pk): code for pk, code in request.session.get(SESSION_SLIPS, [])}
    accounts = (
        svc.managed_accounts(request.user).filter(pk__in=kept, is_active=False).order_by("division_id", "pk")
    )
    slips = [(account, kept[account.pk]) for account in accounts]
    if not slips:
        messages.error(request, _("No slips to print: print a new slip from an account's page."))
        return redirect("account_list")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return _pdf_response(request, slips, f"activation-slips-{stamp}.pdf")
