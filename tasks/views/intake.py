"""Intake pages: the intake overview, the CSV/XLSX upload with a preview, the manual entry form, the
batch page (its task list), the task list and the unresolved queue. Every task list goes through
tasks_visible_to(); personal data is masked by role in the templates (masking filters)."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from .. import intake as intake_step
from .. import uploads
from ..access_log import record_access
from ..api.tasks import task_list_queryset
from ..crypto import DecryptionError
from ..exports import csv_text, xlsx_bytes
from ..filters import TaskFilter, unresolved_tasks
from ..leads_io import LeadFileError, import_rows, ingest_rows, iter_upload, preview_rows
from ..masking import mask_record, sees_unmasked
from ..models import (
    AccessAction,
    IdType,
    IntakeBatch,
    LeadRejection,
    PendingLead,
    Priority,
    Source,
    TaskKind,
    TaskOutcome,
    TaskStatus,
    UploadJob,
)
from ..roles import can
from ..security import lead_scope
from ..selectors import tasks_visible_to
from ..uploads import UploadLimitError

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PREVIEW_REJECTED_SHOWN = 200
UPLOAD_DIR = uploads.UPLOAD_DIR


def _require(user, capability: str) -> None:
    if not can(user, capability):
        raise PermissionDenied


def _today_start():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@login_required
def intake(request):
    _require(request.user, "lead.view")
    context = {
        "batches": IntakeBatch.objects.order_by("-started_at", "-id")[:20],
        "rejected_today": LeadRejection.objects.filter(received_at__gte=_today_start()).count(),
        "pending": PendingLead.objects.count(),
        "my_rejections": LeadRejection.objects.filter(created_by=request.user).order_by(
            "-received_at", "-id"
        )[:20],
        "can_create": can(request.user, "lead.create"),
        "can_run": can(request.user, "intake.run"),
        "interval": settings.INTAKE_INTERVAL_MINUTES,
    }
    return render(request, "intake/intake.html", context)


@login_required
@require_POST
def intake_run_now(request: HttpRequest) -> HttpResponse:
    """The duty desk does not wait for the next tick: the same step as the beat job, under its lock."""
    _require(request.user, "intake.run")
    batch = intake_step.intake_run()
    if batch is not None:
        messages.success(
            request,
            _("Intake done: %(tasks)s new tasks from %(leads)s leads.")
            % {"tasks": batch.new_tasks, "leads": batch.leads},
        )
    elif PendingLead.objects.exists():
        # Nothing was claimed although leads wait: the lock was taken by a run in progress.
        messages.warning(request, _("Another intake run is in progress; try again in a moment."))
    else:
        messages.info(request, _("No pending leads: no task was made."))
    return redirect("intake")


# --- upload ----------------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or XLSX file"))
    source = forms.ChoiceField(
        label=gettext_lazy("source (for rows without one)"), choices=Source.choices, initial=Source.COMMUNITY
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("only .csv and .xlsx files are read"))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("the file is larger than 50 MB: use the import_leads command"))
        return upload


def _preview_context(result: dict, *, token: str, name: str) -> dict:
    return {
        "preview": result,
        "rejected": result["rejected"],
        "more_rejected": max(0, result["rejected_count"] - len(result["rejected"])),
        "token": token,
        "name": name,
    }


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """Step 1: choose a file → preview (nothing written). Step 2: confirm → the valid rows are inserted
    and the rejected rows stored with their reasons. A file above UPLOAD_INLINE_BYTES goes to a job page
    instead (tasks/uploads.py): the preview and the import run in a Celery job, with their progress."""
    _require(request.user, "lead.create")
    pending = request.session.get("intake_upload")
    if request.method == "POST" and request.POST.get("action") == "confirm":
        token = request.POST.get("token", "")
        if not pending or not secrets.compare_digest(pending.get("token", ""), token):
            messages.error(request, _("This preview has expired: upload the file again."))
            return redirect("intake_upload")
        try:
            result = import_rows(
                iter_upload(pending["name"], uploads.load(token, pending["suffix"])),
                source=pending["source"],
                channel="upload",
                created_by_id=request.user.pk,
                scope=lead_scope(request.user),
            )
        # csv.Error: e.g. a field over its limit
        except (LeadFileError, UploadLimitError, FileNotFoundError, csv.Error, DecryptionError) as exc:
            messages.error(request, str(exc))
            return redirect("intake_upload")
        finally:
            uploads.discard(token, pending["suffix"])
            request.session.pop("intake_upload", None)
        messages.success(
            request,
            _("%(name)s: %(accepted)d leads accepted, %(duplicates)d duplicates, %(rejected)d rejected.")
            % {
                "name": pending["name"],
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": len(result.rejected),
            },
        )
        return redirect("intake")
    if request.method == "POST" and request.POST.get("action") == "cancel":
        if pending:
            uploads.discard(pending["token"], pending["suffix"])
            request.session.pop("intake_upload", None)
        return redirect("intake_upload")

    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        data = upload_file.read()
        token = secrets.token_urlsafe(16)
        suffix = Path(upload_file.name).suffix.lower()
        if len(data) > settings.UPLOAD_INLINE_BYTES:
            with transaction.atomic():
                uploads.store(token, suffix, data)
                job = UploadJob.objects.create(
                    token=token,
                    created_by=request.user,
                    name=upload_file.name[:255],
                    suffix=suffix,
                    size=len(data),
                    source=form.cleaned_data["source"],
                    scope=lead_scope(request.user) or "",
                )
                uploads.start(job, "preview")
            return redirect("intake_upload_job", token=token)
        try:
            preview = preview_rows(
                iter_upload(upload_file.name, data),
                source=form.cleaned_data["source"],
                scope=lead_scope(request.user),
            )
        except (
            LeadFileError,
            UploadLimitError,
            csv.Error,
        ) as exc:  # csv.Error: e.g. a field over 131,072 characters
            form.add_error("file", str(exc))
        else:
            uploads.store(token, suffix, data)
            if pending:
                uploads.discard(pending["token"], pending["suffix"])
            request.session["intake_upload"] = {
                "token": token,
                "suffix": suffix,
                "name": upload_file.name,
                "source": form.cleaned_data["source"],
            }
            shown = uploads.preview_result(preview, PREVIEW_REJECTED_SHOWN)
            return render(
                request,
                "intake/upload_preview.html",
                _preview_context(shown, token=token, name=upload_file.name),
            )
    # The document types a file's id_type column takes, with their names (an empty cell: resident ID).
    return render(request, "intake/upload.html", {"form": form, "id_types": IdType.choices})


@login_required
@require_http_methods(["GET", "POST"])
def upload_job(request, token: str):
    """A large upload's page: the progress of its preview, the preview with its confirm button, the
    progress of the import, its result. Only the account that uploaded the file sees it (404 else)."""
    _require(request.user, "lead.create")
    job = get_object_or_404(UploadJob, token=token, created_by=request.user)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm" and job.state == UploadJob.State.PREVIEWED:
            uploads.start(job, "import")
        elif action == "cancel" and job.state in (UploadJob.State.QUEUED, UploadJob.State.PREVIEWED):
            UploadJob.objects.filter(pk=job.pk).update(state=UploadJob.State.CANCELLED)
            uploads.discard(job.token, job.suffix)
            return redirect("intake_upload")
        return redirect("intake_upload_job", token=token)
    result = uploads.job_result(job)
    context = {"job": job, "result": result, "working": job.state in UploadJob.WORKING}
    if job.state == UploadJob.State.PREVIEWED:
        context.update(_preview_context(result, token=token, name=job.name))
    return render(request, "intake/upload_job.html", context)


# --- manual entry ----------------------------------------------------------------------------------------


class ManualLeadForm(forms.Form):
    """One lead typed in by a duty officer: a community check ("four asks") or a hotline call."""

    source = forms.ChoiceField(label=gettext_lazy("source"), choices=Source.choices, initial=Source.COMMUNITY)
    name = forms.CharField(label=gettext_lazy("name"), max_length=50, required=False)
    id_type = forms.ChoiceField(
        label=gettext_lazy("document type"),
        choices=IdType.choices,
        initial=IdType.RESIDENT_ID,
        required=False,
    )
    id_number = forms.CharField(label=gettext_lazy("document number"), max_length=30, required=False)
    phone = forms.CharField(label=gettext_lazy("mobile"), max_length=20, required=False)
    division_code = forms.CharField(
        label=gettext_lazy("division code"),
        max_length=12,
        required=False,
        help_text=gettext_lazy("village code if known; a county or township code works with an address"),
    )
    current_division_code = forms.CharField(
        label=gettext_lazy("where the person is now (division code)"), max_length=12, required=False
    )
    address = forms.CharField(label=gettext_lazy("address"), max_length=500, required=False)
    reason = forms.CharField(
        label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    related_task = forms.CharField(label=gettext_lazy("found by task (id)"), max_length=20, required=False)
    reported_at = forms.DateTimeField(
        label=gettext_lazy("reported at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    # The community "four asks" (四问) and hotline notes: kept in the lead's payload.
    came_from = forms.CharField(label=gettext_lazy("where from"), max_length=200, required=False)
    arrived = forms.CharField(label=gettext_lazy("when arrived"), max_length=100, required=False)
    health = forms.CharField(label=gettext_lazy("health condition"), max_length=200, required=False)
    contacts = forms.CharField(label=gettext_lazy("contacts"), max_length=500, required=False)
    # Makes a double-submitted form one lead, not two: it is the lead's external_id.
    submission = forms.RegexField(regex=r"^[0-9a-f]{16}$", widget=forms.HiddenInput)

    PAYLOAD_FIELDS = ("came_from", "arrived", "health", "contacts")
    LEAD_FIELDS = (
        "source",
        "name",
        "id_type",
        "id_number",
        "phone",
        "division_code",
        "current_division_code",
        "address",
        "reason",
        "related_task",
    )


@login_required
@require_http_methods(["GET", "POST"])
def manual(request):
    _require(request.user, "lead.create")
    initial = {
        "reported_at": timezone.localtime().replace(second=0, microsecond=0),
        "submission": secrets.token_hex(8),
    }
    form = ManualLeadForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        row = {name: data[name] for name in ManualLeadForm.LEAD_FIELDS if data.get(name)}
        row["reported_at"] = data["reported_at"]
        payload = {name: data[name] for name in ManualLeadForm.PAYLOAD_FIELDS if data.get(name)}
        if payload:
            row["payload"] = payload
        row["external_id"] = "form-" + data["submission"]
        result = ingest_rows(
            [row], channel="form", created_by_id=request.user.pk, scope=lead_scope(request.user)
        )
        if result.accepted or result.duplicates:
            messages.success(request, _("Lead recorded; it joins the next intake batch."))
            return redirect("intake_manual")
        for rejection in result.rejected:
            for field, errors in rejection.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    return render(request, "intake/manual.html", {"form": form})


# --- task lists ------------------------------------------------------------------------------------------


def _task_page(request, queryset, template: str, extra: dict):
    task_filter = TaskFilter(request.GET or None, queryset=queryset)
    tasks = task_filter.qs if not task_filter.is_bound or task_filter.is_valid() else queryset.none()
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    if page.object_list:
        record_access(request, action=AccessAction.VIEW, objects=list(page.object_list))
    context = {
        "filter": task_filter,
        "page": page,
        "tasks": page.object_list,
        "unmasked": sees_unmasked(request.user),
        "query": query.urlencode(),
        **extra,
    }
    return render(request, template, context)


@login_required
def batch_detail(request, batch_id: int):
    _require(request.user, "task.view")
    batch = get_object_or_404(IntakeBatch, pk=batch_id)
    queryset = task_list_queryset(request.user).filter(batch=batch)
    return _task_page(request, queryset, "intake/batch.html", {"batch": batch})


@login_required
def task_list(request):
    _require(request.user, "task.view")
    return _task_page(request, task_list_queryset(request.user), "intake/task_list.html", {})


EXPORT_MAX_ROWS = 50_000
EXPORT_HEADER = (
    "任务编号",
    "优先级",
    "姓名",
    "证件号码",
    "手机号",
    "地址",
    "区划代码",
    "区划",
    "工作类型",
    "状态",
    "结果",
    "创建时间",
    "派发时限",
)
_EXPORT_FIELDS = (
    "pk",
    "priority",
    "person__name",
    "person__id_number",
    "person__phone",
    "address",
    "division_id",
    "division__name",
    "kind",
    "status",
    "outcome",
    "created_at",
    "dispatch_due",
)


def _local(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _export_rows(tasks: Iterable[dict], *, unmasked: bool) -> Iterator[list]:
    labels: dict[str, dict[Any, Any]] = {
        "priority": dict(Priority.choices),
        "kind": dict(TaskKind.choices),
        "status": dict(TaskStatus.choices),
        "outcome": dict(TaskOutcome.choices),
    }
    for row in tasks:
        person = mask_record(
            "person",
            {
                "name": row["person__name"],
                "id_number": row["person__id_number"],
                "phone": row["person__phone"],
            },
            unmasked=unmasked,
        )
        task = mask_record(
            "task", {"address": row["address"]}, unmasked=unmasked, division_name=row["division__name"]
        )
        yield [
            f"T{row['pk']}",
            str(labels["priority"].get(row["priority"], row["priority"])),
            person["name"],
            person["id_number"],
            person["phone"],
            task["address"],
            row["division_id"],
            row["division__name"],
            str(labels["kind"].get(row["kind"], row["kind"])),
            str(labels["status"].get(row["status"], row["status"])),
            str(labels["outcome"].get(row["outcome"], row["outcome"] or "")),
            _local(row["created_at"]),
            _local(row["dispatch_due"]),
        ]


@login_required
@require_http_methods(["GET"])
def task_export(request: HttpRequest) -> HttpResponse:
    """The filtered task list as a line list (CSV or XLSX): the list page's filters and scope, masked by
    role, every row logged as an export."""
    _require(request.user, "task.view")
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("format: must be csv or xlsx"))
    params = request.GET.copy()
    params.pop("format", None)
    params.pop("page", None)
    task_filter = TaskFilter(params or None, queryset=tasks_visible_to(request.user))
    if task_filter.is_bound and not task_filter.is_valid():
        reasons = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in task_filter.errors.items())
        return HttpResponseBadRequest(reasons)
    tasks = task_filter.qs.order_by("priority", "-created_at", "-id")
    total = tasks.count()
    if total > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("%(count)s tasks match: an export holds at most %(max)s. Narrow the filters.")
            % {"count": total, "max": EXPORT_MAX_ROWS},
        )
        return redirect(reverse("task_list") + (f"?{params.urlencode()}" if params else ""))
    record_access(request, action=AccessAction.EXPORT, objects=tasks)
    rows = _export_rows(
        tasks.values(*_EXPORT_FIELDS).iterator(chunk_size=2000), unmasked=sees_unmasked(request.user)
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if export_format == "xlsx":
        response = HttpResponse(
            xlsx_bytes("任务", EXPORT_HEADER, rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = HttpResponse(csv_text(EXPORT_HEADER, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tasks-{stamp}.{export_format}"'
    return response


@login_required
def unresolved_queue(request):
    _require(request.user, "task.view")
    queryset = unresolved_tasks(task_list_queryset(request.user)).order_by("priority", "created_at", "id")
    can_resolve = can(request.user, "task.resolve")
    extra = {
        "can_resolve": can_resolve,
        "actions_template": _optional_template(RESOLVE_ACTION_TEMPLATE) if can_resolve else None,
    }
    return _task_page(request, queryset, "intake/unresolved.html", extra)


# The resolve action of the unresolved queue is the dispatch workflow's; its row template (given `task`)
# appears in the queue as soon as it exists.
RESOLVE_ACTION_TEMPLATE = "dispatch/_resolve_action.html"


def _optional_template(name: str) -> str | None:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name
