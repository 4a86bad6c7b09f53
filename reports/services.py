"""Report versions and upstream deliveries (issue 7).

* `report_version_create`: freeze a task's report (snapshot of the data) as the next numbered version.
  Called for every approval (reports/signals.py) and, after approval, whenever the data a report shows
  changes (`report_refresh`: a new version only when the snapshot differs from the latest one).
* Each new version records one `UpstreamDelivery` per configured endpoint in the same transaction, and
  enqueues the push with transaction.on_commit (record first, send later: a failing upstream never
  blocks or rolls back the approval).
* `delivery_attempt` is the step function of the push: claim the row, POST, log the attempt, schedule
  the next one with exponential backoff. Delivery is at-least-once (an acknowledgement lost on the way
  back means a second POST): the upstream de-duplicates on (report_id, version).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import IdType, TracingTask, User

from .models import DeliveryAttempt, ReportVersion, UpstreamDelivery


def _iso(value):
    return timezone.localtime(value).isoformat() if value else None


def _document(id_type: str) -> dict[str, str]:
    """{"document": its name} for a document other than a resident ID (shown before its number); nothing
    for a resident ID, whose number says what it is, so that the snapshots of the reports written before
    document types were shown stay the same (an unchanged snapshot makes no new version)."""
    if not id_type or id_type == IdType.RESIDENT_ID:
        return {}
    return {"document": str(IdType(id_type).label)}


def _user(user):
    return {"id": user.pk, "name": user.display_name, "username": user.get_username()} if user else None


def report_snapshot(task: TracingTask) -> dict:
    """Everything the report shows, unmasked (masking is applied per reader when rendering)."""
    from reviews.models import Decision, DisposalProposal, Review, ReviewState

    task = TracingTask.objects.select_related("person", "division", "batch", "assignee", "source_task").get(
        pk=task.pk
    )
    person = task.person
    transitions = list(task.transitions.select_related("actor").order_by("at", "id"))
    trajectory = list(
        task.trajectory_entries.filter(deleted_at__isnull=True)
        .select_related("created_by")
        .order_by("started_at", "id")
    )
    contacts = list(
        task.close_contacts.select_related("division", "lead__link").order_by("last_contact_at", "id")
    )
    tests = list(task.test_results.order_by("sampled_at", "id"))
    radius = list(task.radius_controls.select_related("created_by").order_by("controlled_at", "id"))
    review = (
        Review.objects.filter(task=task, state=ReviewState.DECIDED, decision=Decision.APPROVE)
        .select_related("expert")
        .order_by("-decided_at", "-id")
        .first()
    )
    findings = list(review.findings.order_by("id")) if review else []
    disposal = (
        DisposalProposal.objects.filter(review=review).prefetch_related("risk_areas").first()
        if review
        else None
    )
    contact_tasks = dict(TracingTask.objects.filter(source_task=task).values_list("person__person_key", "id"))
    investigators: dict[int, User] = {}
    for record in [*radius, *trajectory]:
        investigators.setdefault(record.created_by_id, record.created_by)
    if task.assignee is not None:
        investigators.setdefault(task.assignee.pk, task.assignee)
    submitted = next((t for t in reversed(transitions) if t.to_status == "submitted"), None)
    return {
        "task": {
            "id": task.pk,
            "status": task.status,
            "status_label": str(task.get_status_display()),
            "priority": task.priority,
            "priority_label": str(task.get_priority_display()),
            "division": task.division_id,
            "division_path": task.division.path_name(),
            "generation": task.generation,
            "source_task": task.source_task_id,
            "batch": task.batch_id,
            "created_at": _iso(task.created_at),
            "dispatched_at": _iso(task.dispatched_at),
            "radius_limited_at": _iso(task.radius_limited_at),
            "traced_at": _iso(task.traced_at),
            "submitted_at": _iso(task.submitted_at),
            "approved_at": _iso(task.approved_at),
            "dispatch_due": _iso(task.dispatch_due),
            "radius_due": _iso(task.radius_due),
            "trace_due": _iso(task.trace_due),
        },
        "person": {
            "name": person.name,
            **_document(person.id_type),
            "id_number": person.id_number,
            "phone": person.phone,
            "address": task.address,
            "division_name": task.division.name,
        },
        "timeline": [
            {
                "at": _iso(t.at),
                "from": t.from_status,
                "to": t.to_status,
                "actor": t.actor.display_name if t.actor else "",
                "reason": t.reason,
            }
            for t in transitions
        ],
        "radius": [
            {
                "at": _iso(r.controlled_at),
                "measure": r.get_measure_display(),
                "site": r.quarantine_site,
                "note": r.note,
            }
            for r in radius
        ],
        "trajectory": [
            {
                "from": _iso(e.started_at),
                "until": _iso(e.ended_at),
                "place": e.place_name,
                "address": e.address,
                "activity": e.activity,
                "transport": e.get_transport_display(),
                "vehicle": e.vehicle_number,
                "companions": e.companions,
            }
            for e in trajectory
        ],
        "contacts": [
            {
                "name": c.name,
                **_document(c.lead.id_type if c.lead_id and c.lead else ""),
                "id_number": c.id_number,
                "phone": c.phone,
                "relation": c.get_relation_display(),
                "last_contact_at": _iso(c.last_contact_at),
                "place": c.last_contact_place,
                "division_name": c.division.name,
                "task": c.lead.task_id if c.lead_id and c.lead and c.lead.task_id else None,
            }
            for c in contacts
        ],
        "contact_tasks": sorted(contact_tasks.values()),
        "tests": [
            {
                "sampled_at": _iso(t.sampled_at),
                "type": t.get_test_type_display(),
                "result": t.get_result_display(),
                "lab": t.lab,
            }
            for t in tests
        ],
        "findings": [{"rule": f.rule, "severity": f.severity, "params": f.params} for f in findings],
        "review": {
            "expert": _user(review.expert),
            "decided_at": _iso(review.decided_at),
            "reasons": review.reasons,
            "round": review.round,
        }
        if review
        else None,
        "disposal": {
            "measure": disposal.get_measure_display(),
            "days": disposal.measure_days,
            "tests": disposal.test_schedule_days,
            "note": disposal.note,
            "notify_person": disposal.notify_person,
            "risk_areas": [
                {"level": a.get_level_display(), "place": a.place} for a in disposal.risk_areas.all()
            ],
        }
        if disposal
        else None,
        "signoff": {
            "investigated_by": [_user(u) for u in investigators.values()],
            "submitted_at": _iso(submitted.at) if submitted else _iso(task.submitted_at),
            "submitted_by": submitted.actor.display_name if submitted and submitted.actor else "",
            "reviewed_by": _user(review.expert) if review else None,
            "reviewed_at": _iso(review.decided_at) if review else None,
        },
    }


def _digest(data: dict) -> str:
    stable = {k: v for k, v in data.items() if k not in ("task",)}
    stable["task_clocks"] = {k: v for k, v in data["task"].items() if k not in ("status", "status_label")}
    return hashlib.sha256(
        json.dumps(stable, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


@transaction.atomic
def report_version_create(
    *, task: TracingTask, reason: str, review=None, now: datetime | None = None
) -> ReportVersion:
    """Freeze the next numbered version of `task`'s report and record its upstream deliveries."""
    now = now or timezone.now()
    TracingTask.objects.select_for_update().filter(pk=task.pk).values_list(
        "pk", flat=True
    ).first()  # one numbering at a time
    data = report_snapshot(task)
    number = (ReportVersion.objects.filter(task=task).aggregate(m=Max("number"))["m"] or 0) + 1
    version = ReportVersion.objects.create(
        task=task,
        number=number,
        reason=reason,
        review=review,
        data=data,
        digest=_digest(data),
        created_at=now,
    )
    deliveries_record(version=version, now=now)
    return version


def report_refresh(*, task_id: int, now: datetime | None = None) -> ReportVersion | None:
    """After approval: a new version when the report's data changed since the latest version."""
    with transaction.atomic():
        task = TracingTask.objects.select_for_update().filter(pk=task_id).first()
        latest = ReportVersion.objects.filter(task_id=task_id).order_by("-number").first()
        if task is None or latest is None:
            return None
        if _digest(report_snapshot(task)) == latest.digest:
            return None
        return report_version_create(task=task, reason=ReportVersion.Reason.CHANGE, now=now)


# ---- upstream push -----------------------------------------------------------------------------------


def deliveries_record(*, version: ReportVersion, now: datetime) -> list[UpstreamDelivery]:
    endpoints = [e for e in settings.UPSTREAM_ENDPOINTS if e]
    deliveries = [
        UpstreamDelivery.objects.create(version=version, endpoint=e, next_attempt_at=now, created_at=now)
        for e in endpoints
    ]
    if deliveries:
        from tracing_center.enqueue import enqueue_on_commit

        from .tasks import push_delivery

        for delivery in deliveries:
            enqueue_on_commit(push_delivery, delivery.pk)
    return deliveries


def sign(body: bytes, secret: str | None = None) -> str:
    secret = settings.UPSTREAM_SECRET if secret is None else secret
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(version: ReportVersion) -> bytes:
    """The JSON body: identifiers, state and the PDF link; no personal data (the PDF is behind login)."""
    data = version.data
    body = {
        "report_id": f"T{version.task_id}",
        "version": version.number,
        "reason": version.reason,
        "task_id": version.task_id,
        "division": data["task"]["division"],
        "status": data["task"]["status"],
        "generation": data["task"]["generation"],
        "approved_at": data["task"]["approved_at"],
        "reviewed_by": (data.get("signoff") or {}).get("reviewed_by"),
        "contacts": len(data.get("contacts", [])),
        "contact_tasks": data.get("contact_tasks", []),
        "created_at": _iso(version.created_at),
        "pdf_url": settings.REPORTS_BASE_URL.rstrip("/")
        + reverse("report_version_pdf", args=[version.task_id, version.number]),
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: base · 2^(n-1), capped."""
    seconds = settings.UPSTREAM_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.UPSTREAM_RETRY_MAX_SECONDS))


def _post(url: str, body: bytes, signature: str) -> int:
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    if not parts.hostname:
        raise http.client.InvalidURL(f"no host in the upstream URL {url!r}")
    conn = conn_cls(parts.hostname, parts.port, timeout=settings.UPSTREAM_TIMEOUT_SECONDS)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-TC-Signature": signature,
                "User-Agent": "tracing-center/1",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt: returns the delivery's status afterwards ("delivered", "pending" or "failed"), or
    "skipped" when the row is not due, not pending, or another worker holds it."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            UpstreamDelivery.objects.select_for_update(skip_locked=True)
            .select_related("version")
            .filter(pk=delivery_id, status=UpstreamDelivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        body = payload(delivery.version)
        started = time.monotonic()
        status_code, error = None, ""
        try:
            status_code = _post(delivery.endpoint, body, sign(body))
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        ok = status_code is not None and 200 <= status_code < 300
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=now,
            status_code=status_code,
            ok=ok,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        if ok:
            delivery.status, delivery.delivered_at = UpstreamDelivery.Status.DELIVERED, now
            delivery.save(update_fields=["status", "attempts", "delivered_at", "next_attempt_at"])
            _mark_reported_when_acknowledged(delivery.version, now)
            return delivery.status
        if delivery.attempts >= settings.UPSTREAM_MAX_ATTEMPTS:
            delivery.status = UpstreamDelivery.Status.FAILED  # stale: stop, the page shows it in red
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save(update_fields=["status", "attempts", "delivered_at", "next_attempt_at"])
        return delivery.status


def _mark_reported_when_acknowledged(version: ReportVersion, now: datetime) -> None:
    """approved → reported once every configured upstream has acknowledged this version (an approved
    task whose deployment has no upstream stays approved: nobody was reported to)."""
    from tasks.models import TaskStatus
    from tasks.workflow import task_change_status

    if version.deliveries.exclude(status=UpstreamDelivery.Status.DELIVERED).exists():
        return
    task = TracingTask.objects.select_for_update().get(pk=version.task_id)
    if task.status != TaskStatus.APPROVED:
        return
    count = version.deliveries.count()
    task_change_status(
        task=task,
        to_status=TaskStatus.REPORTED,
        now=now,
        reason=_("Report v%(number)s acknowledged by %(count)s upstream endpoint(s)")
        % {"number": version.number, "count": count},
    )


def due_deliveries(now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        UpstreamDelivery.objects.filter(status=UpstreamDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
