"""Pages of issue 9: the two-factor code pages, "reveal" of masked fields, the auditor's search and export."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import twofactor
from ..access_log import (
    REVEALABLE_FIELDS,
    access_visible_to,
    changes_visible_to,
    record_access,
    reveal_personal_fields,
)
from ..accounts import enrolment_code_consume
from ..exports import csv_lines
from ..masking import sees_unmasked
from ..models import AccessAction, AccessLog, TracingTask
from ..roles import can
from ..security import otp_required
from ..selectors import get_visible_or_404, tasks_visible_to

# ---- two-factor -------------------------------------------------------------------------------------


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    """Second step of the login for the roles that need it: the code of the enrolled device."""
    if request.user.is_verified():
        return HttpResponseRedirect(_next_url(request))
    device = twofactor.confirmed_device(request.user)
    if device is None:
        if not otp_required(request.user):
            return HttpResponseRedirect(_next_url(request))
        return redirect(f"{reverse('otp_setup')}?{request.GET.urlencode()}")
    error = ""
    if request.method == "POST":
        if twofactor.verify(request, device, request.POST.get("otp_token", "")):
            return HttpResponseRedirect(_next_url(request))
        error = _("That code is not right, or was already used. Wait for the next code and try again.")
    return render(
        request,
        "security/otp_verify.html",
        {"error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request):
    """First login of an account that needs a second factor: once the session has shown the one-time
    enrolment code (or came from the activation page), show the secret and confirm one code."""
    if twofactor.confirmed_device(request.user) is not None:
        # Re-enrolment only through an administrator (see tasks/twofactor.py).
        return redirect(f"{reverse('otp_verify')}?{request.GET.urlencode()}")
    next_url = request.POST.get("next") or request.GET.get("next", "")
    error = ""
    if not twofactor.may_enrol(request):
        if request.method == "POST" and "enrolment_code" in request.POST:
            if enrolment_code_consume(user=request.user, code=request.POST.get("enrolment_code", "")):
                twofactor.enrolment_grant(request, request.user)
                return redirect(f"{reverse('otp_setup')}?{urlencode({'next': next_url})}")
            # A wrong code counts towards the lockout like a wrong password.
            user_login_failed.send(
                sender=__name__, credentials={"username": request.user.get_username()}, request=request
            )
            error = _(
                "This enrolment code is not valid or has expired. Ask your administrator for a new one."
            )
        return render(request, "security/otp_enrol_code.html", {"error": error, "next": next_url})
    device = twofactor.pending_device(request.user)
    if request.method == "POST":
        if twofactor.verify(request, device, request.POST.get("otp_token", "")):
            return HttpResponseRedirect(_next_url(request))
        error = _("That code is not right. Check the time on your phone and enter the current code.")
    context = {
        "qr_svg": twofactor.qr_svg(device),
        "secret": twofactor.secret_base32(device),
        "error": error,
        "next": next_url,
    }
    return render(request, "security/otp_setup.html", context)


# ---- reveal -----------------------------------------------------------------------------------------


class RevealForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), min_length=2, max_length=500, strip=True)
    # A form field named "fields" (the API's key too): the form metaclass moves it into base_fields, so
    # it does not replace BaseForm.fields at run time, which the stubs cannot see.
    fields = forms.MultipleChoiceField(  # type: ignore[assignment]
        label=gettext_lazy("Fields"), required=False, choices=[(field, field) for field in REVEALABLE_FIELDS]
    )


@never_cache
@login_required
@require_POST
def task_reveal(request, pk: int):
    """Show the unmasked identity number, phone and address of a task's person, with a reason that is
    logged. Outside the account's territory: 404; a role that works with masked data: 403."""
    task = get_visible_or_404(request.user, TracingTask.objects.select_related("person", "division"), pk=pk)
    if not sees_unmasked(request.user):
        raise PermissionDenied(_("Your role works with masked personal data."))
    form = RevealForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, "security/_reveal_form.html", {"task": task, "form": form}, status=400)
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    values = reveal_personal_fields(
        request, task=task, reason=form.cleaned_data["reason"], fields=form.cleaned_data["fields"]
    )
    template = "security/_revealed.html" if request.htmx else "security/revealed.html"
    return render(request, template, {"task": task, "values": values, "reason": form.cleaned_data["reason"]})


# ---- audit ------------------------------------------------------------------------------------------

CHANGE = "change"


class AuditFilterForm(forms.Form):
    user = forms.CharField(label=gettext_lazy("Account"), required=False, max_length=150)
    person = forms.IntegerField(label=gettext_lazy("Person id"), required=False, min_value=1)
    task = forms.IntegerField(label=gettext_lazy("Task id"), required=False, min_value=1)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        required=False,
        choices=[("", gettext_lazy("all")), *AccessAction.choices, (CHANGE, gettext_lazy("changed"))],
    )


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _require_audit(request):
    if not can(request.user, "audit.view"):
        raise PermissionDenied(_("Only auditors and administrators see the audit log."))


def _filtered(request, data):
    from django.contrib.contenttypes.models import ContentType

    from ..models import Person

    access = access_visible_to(request.user).select_related("user")
    changes = changes_visible_to(request.user)
    if data.get("user"):
        access = access.filter(username__iexact=data["user"])
        changes = changes.filter(actor__username__iexact=data["user"])
    if data.get("person"):
        access = access.filter(person_id=data["person"])
        task_ids = TracingTask.objects.filter(person_id=data["person"]).values("pk")
        changes = changes.filter(
            Q(content_type=ContentType.objects.get_for_model(Person), object_id=data["person"])
            | Q(content_type=ContentType.objects.get_for_model(TracingTask), object_id__in=task_ids)
        )
    if data.get("task"):
        access = access.filter(task_id=data["task"])
        changes = changes.filter(
            content_type=ContentType.objects.get_for_model(TracingTask), object_id=data["task"]
        )
    if data.get("date_from"):
        access = access.filter(at__gte=_day_start(data["date_from"]))
        changes = changes.filter(timestamp__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        end = _day_start(data["date_to"] + dt.timedelta(days=1))
        access = access.filter(at__lt=end)
        changes = changes.filter(timestamp__lt=end)
    action = data.get("action")
    if action == CHANGE:
        access = access.none()
    elif action:
        access = access.filter(action=action)
        changes = changes.none()
    return access.order_by("-at", "-id"), changes.order_by("-timestamp", "-id")


def _access_row(entry: AccessLog) -> dict:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "username": entry.username,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "person_id": entry.person_id,
        "task_id": entry.task_id,
        "division_code": entry.division_code,
        "fields": entry.fields,
        "reason": entry.reason,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "path": entry.path,
    }


def _change_row(entry) -> dict:
    return {
        "id": entry.id,
        "at": entry.timestamp.isoformat(),
        "username": entry.actor.get_username() if entry.actor_id else "",
        "action": entry.get_action_display(),
        "object_type": entry.content_type.model if entry.content_type_id else "",
        "object_id": entry.object_pk,
        "fields": sorted((entry.changes_dict or {}).keys()),
        "ip": entry.remote_addr,
    }


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name) if model else name
    except Exception:  # a field since removed from the model: its stored name is all there is
        return name


def _person_field_label(model, name: str) -> str:
    """A field read through `model` may be the person's (a task's name, ID number, phone)."""
    from ..models import Person

    label = _field_label(model, name)
    return _field_label(Person, name) if label == name else label


def _model_named(model_name: str):
    from django.apps import apps

    # Any installed app's model: the access log names models of the apps built on tasks too.
    for config in apps.get_app_configs():
        try:
            return config.get_model(model_name)
        except LookupError:
            continue
    return None


def _label_access_rows(rows: list) -> None:
    """Readable object and field names on the page (the stored identifiers stay in JSON and CSV)."""
    for row in rows:
        model = _model_named(row.object_type) if row.object_type else None
        row.object_label = str(model._meta.verbose_name) if model else row.object_type
        row.field_labels = [_person_field_label(model, name) for name in row.fields or []]


def _choice_label(model, name: str, value):
    try:
        choices = dict(model._meta.get_field(name).flatchoices) if model else {}
    except Exception:
        choices = {}
    return choices.get(value, value)


def _change_display(entry) -> dict:
    """A change row for the page: the time as a datetime (shown in Asia/Shanghai like every other time),
    readable model and field names, and each field's old and new value."""
    row = _change_row(entry)
    model = entry.content_type.model_class() if entry.content_type_id else None
    row["at"] = entry.timestamp
    row["object_type"] = str(model._meta.verbose_name) if model else row["object_type"]
    row["diff"] = [
        {
            "field": _field_label(model, name),
            "old": _choice_label(model, name, values[0]),
            "new": _choice_label(model, name, values[1]),
        }
        for name, values in sorted((entry.changes_dict or {}).items())
        if isinstance(values, (list, tuple)) and len(values) == 2
    ]
    return row


@never_cache
@login_required
def audit_log(request):
    """The auditor's search over reads (AccessLog) and changes (django-auditlog), in its territory.
    `?format=json` answers the same rows as JSON."""
    _require_audit(request)
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    access, changes = _filtered(request, data)
    size = settings.AUDIT_PAGE_SIZE
    access_rows = list(access[:size])
    change_rows = list(changes[:size])
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "results": [_access_row(e) for e in access_rows],
                "changes": [_change_row(e) for e in change_rows],
            }
        )
    _label_access_rows(access_rows)
    context = {
        "form": form,
        "access": access_rows,
        "changes": [_change_display(e) for e in change_rows],
        "page_size": size,
        "person_id": data.get("person"),
    }
    return render(request, "security/audit_log.html", context)


EXPORT_COLUMNS = [
    ("at", gettext_lazy("when")),
    ("username", gettext_lazy("account")),
    ("actor_division_code", gettext_lazy("account scope")),
    ("action", gettext_lazy("action")),
    ("object_type", gettext_lazy("object type")),
    ("object_id", gettext_lazy("object id")),
    ("task_id", gettext_lazy("task id")),
    ("fields", gettext_lazy("fields")),
    ("reason", gettext_lazy("reason")),
    ("ip", gettext_lazy("IP address")),
    ("user_agent", gettext_lazy("browser")),
    ("path", gettext_lazy("page")),
]


@never_cache
@login_required
def audit_person_export(request, person_id: int):
    """CSV of every recorded read of one person's data. The person must be in the auditor's territory
    (one of its tasks is visible): else 404. The export itself is recorded."""
    from ..models import Person

    visible = tasks_visible_to(request.user).filter(person_id=person_id)
    if not visible.exists():
        raise Http404
    _require_audit(request)
    person = Person.objects.get(pk=person_id)
    record_access(
        request,
        action=AccessAction.EXPORT,
        objects=[person],
        fields=["access_history"],
        reason=_("audit export"),
    )
    entries = AccessLog.objects.filter(person_id=person_id).order_by("at", "id")

    def rows():
        for entry in entries.iterator(chunk_size=2000):
            values = []
            for key, _label in EXPORT_COLUMNS:
                value = getattr(entry, key)
                if key == "at":
                    value = timezone.localtime(value).isoformat(timespec="seconds")
                elif key == "fields":
                    value = " ".join(value or [])
                values.append("" if value is None else value)
            yield values

    header = [str(label) for _key, label in EXPORT_COLUMNS]
    response = StreamingHttpResponse(csv_lines(header, rows()), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="person-{person_id}-access-{stamp}.csv"'
    return response
