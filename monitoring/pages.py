"""Pages of health monitoring (docs/monitoring-channels.md): the sub-unit's "due today" list on the
phone and its check-in endpoint, the period page, the person's own check-in link and the duty desk's
alert list. Every check-in goes through monitoring.services.checkins.record_checkin."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks.access_log import record_access
from tasks.masking import mask_hidden, mask_name, sees_unmasked
from tasks.models import AccessAction, Role, TestResult
from tasks.roles import can
from tasks.selectors import get_visible_or_404, visible_to
from tasks.views.field import js_messages

from . import links
from .clock import local_day
from .models import (
    CheckIn,
    CheckInChannel,
    MonitoringAlert,
    MonitoringAlertKind,
    MonitoringPeriod,
    PeriodState,
    SampleState,
    Symptom,
)
from .models.periods import OPEN_STATES
from .services.checkins import record_checkin
from .services.release import ReleaseRefused, may_release, release_blockers, release_period

# Test types and results as the field work names them (tasks.models.TestResult).
TEST_TYPES = dict(TestResult._meta.get_field("test_type").choices or [])
RESULTS = dict(TestResult._meta.get_field("result").choices or [])
DUE_LIST_LIMIT = 500
ALERT_LIST_LIMIT = 300
# The roles that read the alert list (the duty desk, the CDC experts, the command) and acknowledge it.
ALERT_READERS = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.TEAM_LEADER, Role.COMMANDER, Role.ADMIN}
ALERT_ACKNOWLEDGERS = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.TEAM_LEADER, Role.ADMIN}
# Alerts the duty desk acts on: the reminders and the sub-unit leader's escalation stay with the sub-unit.
DESK_ALERT_KINDS = (
    MonitoringAlertKind.ABNORMAL,
    MonitoringAlertKind.LOST_CONTACT,
    MonitoringAlertKind.POSITIVE,
    MonitoringAlertKind.CHECKIN_DESK,
    MonitoringAlertKind.SAMPLE_OVERDUE,
)
# The personal link: at most this many requests per token, and per client address (higher: many phones
# of a village reach the server through one carrier address), in a window.
LINK_RATE_PER_TOKEN = 20
LINK_RATE_PER_ADDRESS = 300
LINK_RATE_WINDOW_SECONDS = 600
MONITORED_STATES = (*OPEN_STATES, PeriodState.LOST_CONTACT)


def _person_name(person, unmasked: bool) -> str:
    return person.name if unmasked else mask_name(person.name)


def day_of(period: MonitoringPeriod, today: date) -> tuple[int, int]:
    """(day x, of y days) of the period on `today`."""
    total = (period.ends_on - period.starts_on).days + 1
    return min(max((today - period.starts_on).days + 1, 1), total), total


def symptom_labels(symptoms) -> list[str]:
    labels = dict(Symptom.choices)
    return [str(labels.get(value, value)) for value in symptoms]


def periods_visible_to(user):
    return visible_to(user, MonitoringPeriod.objects.all())


def due_today_rows(user, *, now: datetime) -> list[MonitoringPeriod]:
    """Every monitored person of the account's territory (its village for field staff) due a check-in
    today: those not yet checked in first, then lost contact and abnormal first, then by name."""
    today = local_day(now)
    periods = (
        periods_visible_to(user)
        .filter(state__in=MONITORED_STATES, starts_on__lte=today, ends_on__gte=today)
        .select_related("person", "division")
        .annotate(
            checked_in_today=Exists(CheckIn.objects.filter(period=OuterRef("pk"), day=today)),
            samples_due=Count(
                "samples", filter=Q(samples__state=SampleState.DUE, samples__due_on=today), distinct=True
            ),
            samples_overdue=Count(
                "samples", filter=Q(samples__state=SampleState.DUE, samples__due_on__lt=today), distinct=True
            ),
        )
        .order_by("checked_in_today", "-abnormal_open", "id")[:DUE_LIST_LIMIT]
    )
    # Names are encrypted at rest: sorted by name here, after decryption, within each group.
    rows = sorted(periods, key=lambda p: (p.checked_in_today, -p.abnormal_open, p.person.name, p.id))
    for period in rows:
        period.day_x, period.day_y = day_of(period, today)
    return rows


def _require_field(user) -> None:
    if not can(user, "task.fieldwork"):
        raise PermissionDenied(_("Your role may not do this."))


@login_required
@ensure_csrf_cookie
@never_cache
@require_GET
def field_due(request: HttpRequest) -> HttpResponse:
    """Due today: the whole village on the phone, one tap "normal" per person, a full form for the rest."""
    _require_field(request.user)
    now = timezone.now()
    unmasked = sees_unmasked(request.user)
    rows: list[Any] = due_today_rows(request.user, now=now)
    if rows:
        record_access(request, action=AccessAction.VIEW, objects=rows, fields=["name"])
    for period in rows:
        period.display_name = _person_name(period.person, unmasked)
        period.form_key = uuid.uuid4()
        period.form_key_full = uuid.uuid4()
    done = sum(1 for period in rows if period.checked_in_today)
    context = {
        "field_messages": {
            **js_messages(),
            "kind_checkin": _("Check-in"),
            "checkin_waiting": _("waiting to be sent"),
            "checked_in": _("checked in %(time)s"),
            "abnormal": _("abnormal"),
        },
        "sw_url": reverse("field_sw"),
        "now": now,
        "rows": rows,
        "done": done,
        "symptoms": Symptom.choices,
    }
    return render(request, "monitoring/due.html", context)


def _wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _checkin_values(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise ValidationError({"non_field_errors": _("The body is not JSON.")}) from None
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": _("The body must be a JSON object.")})
    else:
        data = {
            key: request.POST.get(key, "") for key in ("temperature", "location", "note", "idempotency_key")
        }
        data["symptoms"] = request.POST.getlist("symptoms")
    return {
        "temperature": data.get("temperature"),
        "symptoms": data.get("symptoms") or [],
        "location": str(data.get("location") or ""),
        "note": str(data.get("note") or ""),
        "idempotency_key": data.get("idempotency_key"),
    }


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            name: [str(m) for error in errors for m in error.messages]
            for name, errors in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def checkin_json(checkin: CheckIn, *, created: bool) -> dict[str, Any]:
    return {
        "id": checkin.pk,
        "period": checkin.period_id,
        "day": checkin.day.isoformat(),
        "channel": checkin.channel,
        "temperature": str(checkin.temperature) if checkin.temperature is not None else None,
        "symptoms": list(checkin.symptoms),
        "abnormal": checkin.abnormal,
        "recorded_at": timezone.localtime(checkin.recorded_at).strftime("%H:%M"),
        "created": created,
    }


@login_required
@require_POST
def field_checkin(request: HttpRequest, period_id: int) -> HttpResponse:
    """A check-in by the sub-unit: JSON from the phone's outbox (resent with the same idempotency key:
    the stored check-in, 200) or a plain form post (no script)."""
    _require_field(request.user)
    period = get_visible_or_404(request.user, MonitoringPeriod.objects.all(), pk=period_id)
    try:
        values = _checkin_values(request)
        result = record_checkin(period, channel=CheckInChannel.FIELD, by=request.user, **values)
    except ValidationError as exc:
        errors = _errors(exc)
        if _wants_json(request):
            return JsonResponse({"detail": _("Invalid input."), "errors": errors}, status=400)
        for field_name, reasons in errors.items():
            messages.error(request, f"{field_name}: {'; '.join(reasons)}")
        return redirect("field_monitoring")
    if _wants_json(request):
        return JsonResponse(
            checkin_json(result.checkin, created=result.created), status=201 if result.created else 200
        )
    messages.success(request, _("Check-in saved."))
    return redirect("field_monitoring")


@login_required
@never_cache
@require_GET
def period_detail(request: HttpRequest, period_id: int) -> HttpResponse:
    """One monitoring period: the person (masked as the role requires), measure, days, state, the
    check-ins, the samples and the alerts."""
    if not can(request.user, "task.view"):
        raise PermissionDenied(_("Your role may not do this."))
    period = get_visible_or_404(
        request.user,
        MonitoringPeriod.objects.select_related("person", "division", "task", "subunit", "released_by"),
        pk=period_id,
    )
    now = timezone.now()
    today = local_day(now)
    record_access(request, action=AccessAction.VIEW, objects=[period], fields=["name"])
    day_x, day_y = day_of(period, today)
    samples = list(period.samples.all())
    for sample in samples:
        sample.test_label = TEST_TYPES.get(sample.test_type, sample.test_type)
        sample.result_label = RESULTS.get(sample.result, sample.result)
    unmasked = sees_unmasked(request.user)
    checkins = list(period.checkins.select_related("recorded_by")[:200])
    for checkin in checkins:
        checkin.symptom_labels = symptom_labels(checkin.symptoms)
        if not unmasked:
            # Where the person is may be their address: a masked role sees only that there is one.
            checkin.location = mask_hidden(checkin.location)
    context = {
        "period": period,
        "person_name": _person_name(period.person, unmasked),
        "day_x": day_x,
        "day_y": day_y,
        "checkins": checkins,
        "samples": samples,
        "alerts": list(period.alerts.select_related("acknowledged_by")),
        "today": today,
        "is_field": can(request.user, "task.fieldwork"),
        "may_acknowledge": _may_acknowledge(request.user),
        "may_release": period.is_open and may_release(request.user, period),
        "release_blockers": release_blockers(period, now=now) if period.is_open else [],
    }
    return render(request, "monitoring/period.html", context)


@login_required
@require_POST
def period_release(request: HttpRequest, period_id: int) -> HttpResponse:
    """The sub-unit releases the person (解除): the same rules as the API; every reason it cannot be
    done yet comes back on the period page."""
    period = get_visible_or_404(request.user, MonitoringPeriod.objects.all(), pk=period_id)
    try:
        release_period(period, by=request.user, note=request.POST.get("note", ""))
    except ReleaseRefused as refused:
        messages.error(request, _("Not released yet: %(reasons)s") % {"reasons": "; ".join(refused.messages)})
    except PermissionDenied as denied:
        messages.error(request, str(denied) or _("Your role may not do this."))
    else:
        messages.success(request, _("Released. The release notice can be printed from this page."))
    return redirect("monitoring_period", period_id=period.pk)


# --- the person's own link ----------------------------------------------------------------------------------


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _rate_limited(request: HttpRequest, token: str) -> bool:
    """Too many requests for this token or from this address in the window. Counted in the cache; when
    the cache is down the page still works (the token is the real guard)."""
    limits = {
        f"checkin-link:t:{links.token_hash(token)[:32]}": LINK_RATE_PER_TOKEN,
        f"checkin-link:a:{_client(request)}": LINK_RATE_PER_ADDRESS,
    }
    try:
        for key, limit in limits.items():
            if cache.add(key, 1, LINK_RATE_WINDOW_SECONDS):
                continue
            if cache.incr(key) > limit:
                return True
    except Exception:
        return False
    return False


def _too_many() -> HttpResponse:
    response = HttpResponse(_("Too many requests: please try again in a few minutes."), status=429)
    response["Retry-After"] = str(LINK_RATE_WINDOW_SECONDS)
    response["Content-Type"] = "text/plain; charset=utf-8"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def person_checkin(request: HttpRequest, token: str) -> HttpResponse:
    """The person's own check-in page: no login, the token is the only key (unknown, expired or
    released → 404); the person sees only their masked name and today's form."""
    if _rate_limited(request, token):
        return _too_many()
    period = links.period_by_token(token)
    now = timezone.now()
    today = local_day(now)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        values = {
            "temperature": request.POST.get("temperature", ""),
            "symptoms": request.POST.getlist("symptoms"),
            "location": request.POST.get("location", ""),
            "note": request.POST.get("note", ""),
            "idempotency_key": request.POST.get("idempotency_key", ""),
        }
        try:
            record_checkin(period, channel=CheckInChannel.PERSON, now=now, **values)
            return redirect("monitoring_person_checkin", token=token)
        except ValidationError as exc:
            errors = _errors(exc)
            status = 400
    today_checkin = period.checkins.filter(day=today).order_by("-recorded_at").first()
    context = {
        "token": token,
        "person_name": mask_name(period.person.name),
        "today": today,
        "today_checkin": today_checkin,
        "symptoms": Symptom.choices,
        "errors": errors,
        "values": values,
        "form_key": uuid.uuid4(),
        "open_today": period.starts_on <= today <= period.ends_on,
    }
    response = render(request, "monitoring/person_checkin.html", context, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "same-origin"
    return response


# --- the duty desk's alert list ----------------------------------------------------------------------------


def _may_read_alerts(user) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") in ALERT_READERS)


def _may_acknowledge(user) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") in ALERT_ACKNOWLEDGERS)


def open_alerts_visible_to(user):
    return visible_to(user, MonitoringAlert.objects.all()).filter(
        acknowledged_at__isnull=True, kind__in=DESK_ALERT_KINDS
    )


def open_alert_count(user) -> int:
    return open_alerts_visible_to(user).count()


@login_required
@never_cache
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    """Open alerts of the territory, newest first: abnormal check-ins, lost contact, positive results,
    missed check-ins that reached the desk, overdue samples."""
    if not _may_read_alerts(request.user):
        raise PermissionDenied(_("Your role may not do this."))
    alerts = list(
        open_alerts_visible_to(request.user)
        .select_related("period", "period__person", "period__division", "checkin")
        .order_by("-created_at", "-id")[:ALERT_LIST_LIMIT]
    )
    unmasked = sees_unmasked(request.user)
    if alerts:
        record_access(request, action=AccessAction.VIEW, objects=[a.period for a in alerts], fields=["name"])
    for alert in alerts:
        alert.person_name = _person_name(alert.period.person, unmasked)
        if alert.checkin is not None:
            alert.checkin.symptom_labels = symptom_labels(alert.checkin.symptoms)
    context = {
        "alerts": alerts,
        "may_acknowledge": _may_acknowledge(request.user),
        "now": timezone.now(),
    }
    return render(request, "monitoring/alerts.html", context)


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    if not _may_acknowledge(request.user):
        raise PermissionDenied(_("Your role may not do this."))
    alert = get_visible_or_404(request.user, MonitoringAlert.objects.all(), pk=alert_id)
    updated = MonitoringAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=request.user
    )
    if updated:
        messages.success(request, _("Alert acknowledged."))
    else:
        messages.info(request, _("The alert was already acknowledged."))
    back = request.POST.get("next", "")
    if back.startswith("/monitoring/") and "//" not in back:
        return redirect(back)
    return redirect("monitoring_alerts")


def periods_of_task(task_id: int, user) -> list[MonitoringPeriod]:
    """The monitoring periods of a task, for the task page's "monitoring and tests" section."""
    return list(periods_visible_to(user).filter(task_id=task_id).order_by("-starts_on", "-id"))
