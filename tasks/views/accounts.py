"""Pages every role shares: the home page per role, account activation, the health check."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .. import twofactor
from ..accounts import account_activate
from ..roles import ROLE_HOME_TITLES, can
from ..security import otp_required

# (capability, url name, title, text): what a role's home page links to. Entries whose URL does not
# exist yet are left out, so the home page grows as the features land.
HOME_PANELS = [
    ("lead.view", "intake", gettext_lazy("Intake"), gettext_lazy("Lead batches, uploads and rejected rows")),
    ("task.view", "task_list", gettext_lazy("Tasks"), gettext_lazy("Tracing tasks in your territory")),
    (
        "task.resolve",
        "unresolved_queue",
        gettext_lazy("Unresolved"),
        gettext_lazy("Tasks waiting for a village"),
    ),
    (
        "task.assign",
        "bulk_assign",
        gettext_lazy("Assign"),
        gettext_lazy("Re-assign many tasks at once; unassigned tasks"),
    ),
    ("task.assign", "receipts", gettext_lazy("Receipts"), gettext_lazy("Who has not confirmed receipt")),
    (
        "task.transfer_decide",
        "transfer_inbox",
        gettext_lazy("Transfers"),
        gettext_lazy("Tasks other jurisdictions send to you"),
    ),
    ("task.fieldwork", "field_tasks", gettext_lazy("My tasks"), gettext_lazy("Your tasks and their clocks")),
    (
        "task.view",
        "notification_inbox",
        gettext_lazy("Notifications"),
        gettext_lazy("Clock warnings and breaches"),
    ),
    ("review.decide", "review_queue", gettext_lazy("Review queue"), gettext_lazy("Submitted investigations")),
    ("stats.view", "dashboard", gettext_lazy("Dashboard"), gettext_lazy("Live picture of your territory")),
    (
        "roster.view",
        "duty_roster",
        gettext_lazy("Roster"),
        gettext_lazy("Who is on duty at the desk; shift handovers"),
    ),
    (
        "workload.view",
        "duty_workload",
        gettext_lazy("Workload"),
        gettext_lazy("Open tasks per member and team; rebalancing"),
    ),
    ("audit.view", "audit_log", gettext_lazy("Audit"), gettext_lazy("Who saw and changed what")),
    (
        "account.manage",
        "account_list",
        gettext_lazy("Accounts"),
        gettext_lazy("Accounts of your territory, onboarding and activation"),
    ),
]


@login_required
def home(request):
    user = request.user
    panels = []
    for capability, url_name, title, text in HOME_PANELS:
        if not can(user, capability):
            continue
        try:
            panels.append({"url": reverse(url_name), "title": title, "text": text})
        except NoReverseMatch:
            continue
    context = {
        "home_title": ROLE_HOME_TITLES.get(user.role, _("Home")),
        "scope_path": user.division.path_name() if user.division_id else "",
        "panels": panels,
    }
    return render(request, "tasks/home.html", context)


class ActivationForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    code = forms.CharField(label=gettext_lazy("Activation code"), max_length=20)
    password = forms.CharField(label=gettext_lazy("New password"), widget=forms.PasswordInput)
    password_again = forms.CharField(label=gettext_lazy("New password again"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean() or self.cleaned_data
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("the two passwords differ"))
        return data


@never_cache
def activate(request):
    # The slip's QR code opens this page with the username and the code filled in: the owner only
    # chooses a password.
    initial = {key: request.GET.get(key, "")[:150] for key in ("username", "code")}
    form = ActivationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_activate(
                username=form.cleaned_data["username"],
                code=form.cleaned_data["code"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            if otp_required(user) and twofactor.confirmed_device(user) is None:
                # The activation code proved who this is: the same session goes on to link the phone.
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                twofactor.enrolment_grant(request, user)
                return redirect("otp_setup")
            messages.success(request, _("Your account is active. Log in with your new password."))
            return redirect("login")
    return render(request, "registration/activate.html", {"form": form})


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
