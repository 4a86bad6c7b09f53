"""The masking and logging walker: every route of the project says whether it returns personal data.

A route that does (`Personal`) is requested by every role that may read it, over a task whose every
personal field (tasks/masking.PERSONAL_FIELDS) holds a value found nowhere else: a role outside
roles.UNMASKED_ROLES must find none of those values in the answer, and every read must leave an
access-log row. A route that does not (`NotPersonal`) says why; when it can be requested without an
object it is requested by an unmasked role, and must not show any of the values either.

A new route without an entry fails `test_every_route_has_a_masking_and_logging_entry` (like the scope
walker, tests/test_scope_routes.py, whose route listing this module reuses).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks.masking import PERSONAL_FIELDS, Kind, mask_value, sees_unmasked
from tasks.models import AccessLog, CloseContact, RadiusControl, Registration, Role, TrajectoryEntry
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.factories import PersonFactory, UserFactory
from tests.test_scope_routes import project_routes

pytestmark = pytest.mark.django_db

TASK_VIEWERS = ("duty_officer", "team_leader", "field_staff", "cdc_expert", "commander", "auditor", "admin")
FIELD = ("field_staff", "team_leader")
COUNTY_VIEWERS = ("duty_officer", "cdc_expert", "commander", "auditor", "admin")


@dataclass
class Personal:
    """Returns personal data: masked per role, and logged."""

    url: Callable[[SimpleNamespace], str]
    readers: tuple[str, ...]
    method: str = "get"
    data: dict = field(default_factory=dict)
    # A PDF's text is compressed: its masking is tested through reports.reading.masked_for below.
    searchable: bool = True
    # False for health and contact records (attempts, tests, the submit check): logged, but no field
    # of them is one the policy masks.
    maskable: bool = True
    # A known gap, owned elsewhere: the case is expected to fail (strictly: once fixed, drop the gap).
    gap: str = ""


@dataclass
class NotPersonal:
    why: str
    # When given: requested by the duty officer over the same data, it must show none of the values.
    url: Callable[[SimpleNamespace], str] | None = None


def _order_over(w: SimpleNamespace):
    """A supervision order of the walker's duty officer with the walker's open task attached."""
    from tasks.models import User
    from tests.order_fixtures import make_order

    return make_order(issuer=User.objects.get(username="alice"), tasks=[w.open.pk])


def _with_order(w: SimpleNamespace, url: str) -> str:
    _order_over(w)
    return url


def _on(name: str, **kwargs: Callable[[SimpleNamespace], object]) -> Callable[[SimpleNamespace], str]:
    return lambda w: reverse(name, kwargs={key: make(w) for key, make in kwargs.items()})


OPEN = {"task_id": lambda w: w.open.pk}
FIELD_API = ("task-fieldwork", "task-radius", "task-trajectory", "task-contacts", "task-registration")


ENTRIES: dict[str, object] = {
    # Account administration: staff accounts (name, username, work phone of colleagues), never a traced
    # person's data; scoped to the administrator's territory (tests/test_scope_routes.py).
    "account_list": NotPersonal("staff accounts only"),
    "account_activation_export": NotPersonal("counts per division"),
    "account_create": NotPersonal("a form for a staff account"),
    "account_onboard": NotPersonal("a staff file and its preview"),
    "account_onboard_slips": NotPersonal("activation slips of staff accounts"),
    "account_edit": NotPersonal("one staff account and its change history"),
    "account_deactivate": NotPersonal("changes a staff account"),
    "account_reactivate": NotPersonal("changes a staff account"),
    "account_reset_second_factor": NotPersonal("changes a staff account"),
    "account_slip": NotPersonal("the activation slip of a staff account"),
    # Tasks (API and pages).
    "task-list": Personal(_on("task-list"), TASK_VIEWERS),
    "task-detail": Personal(_on("task-detail", pk=lambda w: w.open.pk), TASK_VIEWERS),
    "task_list": Personal(_on("task_list"), TASK_VIEWERS),
    "search": Personal(lambda w: reverse("search") + f"?q=T{w.open.pk}", TASK_VIEWERS),
    "task_export": Personal(lambda w: reverse("task_export") + "?format=csv", TASK_VIEWERS),
    "task_detail": Personal(_on("task_detail", **OPEN), TASK_VIEWERS),
    "task_merge": Personal(
        lambda w: reverse("task_merge") + f"?keep={w.open.pk}&merge={w.open.pk}", ("duty_officer", "admin")
    ),
    "intake_batch": Personal(_on("intake_batch", batch_id=lambda w: w.open.batch_id), TASK_VIEWERS),
    # Likely duplicates: the world holds one pair (the open task's person and a second record of them).
    "person-duplicate-list": Personal(_on("person-duplicate-list"), ("duty_officer", "admin")),
    "duplicate_queue": Personal(_on("duplicate_queue"), ("duty_officer", "admin")),
    **{
        name: NotPersonal(
            "a decision on one pair: answers it as the queue shows it (masked, logged); "
            "tests/test_people_duplicates.py"
        )
        for name in (
            "person-duplicate-dismiss",
            "person-duplicate-merge",
            "person-duplicate-scan",
            "duplicate_decide",
            "duplicate_scan",
        )
    },
    "unresolved_queue": Personal(_on("unresolved_queue"), COUNTY_VIEWERS),
    # Field work.
    **{name: Personal(_on(name, **OPEN), TASK_VIEWERS) for name in FIELD_API},
    **{
        name: Personal(_on(name, **OPEN), TASK_VIEWERS, maskable=False)
        for name in ("task-attempts", "task-tests", "task-submit")
    },
    "task-trajectory-entry": Personal(
        _on("task-trajectory-entry", task_id=lambda w: w.open.pk, entry_id=lambda w: w.entry.pk), TASK_VIEWERS
    ),
    "field-task-list": Personal(_on("field-task-list"), FIELD),
    "field_tasks": Personal(_on("field_tasks"), FIELD),
    "field_task": Personal(_on("field_task", **OPEN), FIELD),
    # Reveal: the unmasked values on purpose, for unmasked roles only (403 for the others).
    "task-reveal": Personal(
        _on("task-reveal", **OPEN), ("duty_officer", "field_staff"), method="post", data={"reason": "核实"}
    ),
    "task_reveal": Personal(
        _on("task_reveal", pk=lambda w: w.open.pk), ("duty_officer",), method="post", data={"reason": "核实"}
    ),
    # Reviews.
    "review-list": Personal(_on("review-list"), ("cdc_expert",)),
    "review-detail": Personal(_on("review-detail", pk=lambda w: w.review.pk), ("cdc_expert",)),
    "review_queue": Personal(_on("review_queue"), ("cdc_expert",)),
    "review_detail": Personal(_on("review_detail", pk=lambda w: w.review.pk), ("cdc_expert",)),
    # Reports.
    "report_task": Personal(_on("report_task", task_id=lambda w: w.reviewed.pk), TASK_VIEWERS),
    "report_cluster": Personal(_on("report_cluster", task_id=lambda w: w.reviewed.pk), TASK_VIEWERS),
    "report_version": Personal(
        _on("report_version", task_id=lambda w: w.reviewed.pk, number=lambda w: 1), TASK_VIEWERS
    ),
    "report_task_pdf": Personal(
        _on("report_task_pdf", task_id=lambda w: w.reviewed.pk),
        ("duty_officer", "commander"),
        searchable=False,
    ),
    "report_version_pdf": Personal(
        _on("report_version_pdf", task_id=lambda w: w.reviewed.pk, number=lambda w: 1),
        ("duty_officer", "commander"),
        searchable=False,
    ),
    "report_chain": NotPersonal(
        "a page around the graph; the graph's data is api-report-chain",
        _on("report_chain", task_id=lambda w: w.reviewed.pk),
    ),
    "api-report-chain": NotPersonal(
        "task ids, statuses and clocks of the chain", _on("api-report-chain", task_id=lambda w: w.reviewed.pk)
    ),
    "task-review-comments": NotPersonal(
        "the experts' comments on entries, no field of the person",
        _on("task-review-comments", task_id=lambda w: w.reviewed.pk),
    ),
    # Notices: the person's name, masked by role, reads of a notice logged (notices app).
    "notice_list": Personal(_on("notice_list"), ("duty_officer", "commander")),
    "notice-list": Personal(_on("notice-list"), ("duty_officer", "commander")),
    "notice_queue_county": Personal(_on("notice_queue_county"), ("duty_officer",)),
    "notice_detail": Personal(_on("notice_detail", pk=lambda w: w.notice.pk), ("duty_officer", "commander")),
    "notice-detail": Personal(_on("notice-detail", pk=lambda w: w.notice.pk), ("duty_officer", "commander")),
    "notice_queue_city": NotPersonal("the same rows as notice_list, in another state"),
    "notice_returned": NotPersonal("the same rows as notice_list, in another state"),
    "notice_feedback_queue": NotPersonal(
        "feedback text and the notice's title; the person is one click away"
    ),
    "notice_follow_ups": NotPersonal("the field unit's own follow-ups (field roles see names in full)"),
    "notice_person": NotPersonal("the person's own notice, behind their personal token"),
    # Supervision orders: staff work; attached tasks are shown by number only, never a person's data.
    "supervision_order_list": NotPersonal(
        "orders show task numbers, owners and staff replies, never a person's data",
        url=lambda w: _with_order(w, reverse("supervision_order_list")),
    ),
    "supervision_order_detail": NotPersonal(
        "the order and its thread: attached tasks by number only",
        url=lambda w: reverse("supervision_order_detail", kwargs={"order_id": _order_over(w).pk}),
    ),
    "supervision_order_stats": NotPersonal(
        "counts by owner unit", url=lambda w: _with_order(w, reverse("supervision_order_stats"))
    ),
    "supervision_order_new": NotPersonal("the issuing form: units and staff accounts, no person's data"),
    "supervision_order_action": NotPersonal("a move of an order (POST), answered with a redirect"),
    "supervision-order-list": NotPersonal(
        "orders with task numbers only", url=lambda w: _with_order(w, reverse("supervision-order-list"))
    ),
    "supervision-order-detail": NotPersonal(
        "an order with task numbers only",
        url=lambda w: reverse("supervision-order-detail", kwargs={"pk": _order_over(w).pk}),
    ),
    **{
        f"supervision-order-{action}": NotPersonal(
            "a move of an order (POST): the order with task numbers only"
        )
        for action in ("acknowledge", "reply", "complete", "accept", "send-back")
    },
    "notice_person_ack": NotPersonal("the person's own acknowledgement (POST)"),
    "notice_person_feedback": NotPersonal("the person's own feedback (POST)"),
    "notice_board": NotPersonal("aggregate figures for a public display", _on("notice_board")),
    "notice-evaluation": NotPersonal("aggregate figures", _on("notice-evaluation")),
    "notice_evaluation": NotPersonal("aggregate figures", _on("notice_evaluation")),
    "notice_templates": NotPersonal("templates with placeholders"),
    "notice_template_edit": NotPersonal("one template"),
    "notice_rules": NotPersonal("a form running the rules; answers counts"),
    "notice-sms-inbound": NotPersonal("the SMS gateway's webhook (POST), answers ok"),
    # Monitoring pages: the person's name, masked by role; every read of a period logged.
    "field_monitoring": Personal(lambda w: _monitored(w, "field_monitoring"), FIELD),
    "monitoring_period": Personal(lambda w: _monitored(w, "monitoring_period"), TASK_VIEWERS),
    "monitoring_period_release": NotPersonal("a write (POST): redirects to the period page"),
    "monitoring_alerts": Personal(
        lambda w: _monitored(w, "monitoring_alerts", abnormal=True),
        ("duty_officer", "cdc_expert", "team_leader", "commander", "admin"),
    ),
    "monitoring_person_checkin": NotPersonal(
        "the person's own check-in page behind their token; name masked"
    ),
    "field_monitoring_checkin": NotPersonal("a write (POST); answers the check-in's values"),
    "monitoring_alert_ack": NotPersonal("a write (POST); redirects to the alert list"),
    **{
        name: NotPersonal("a write; answers the state it left")
        for name in (
            "notice_approve",
            "notice_reject",
            "notice_resubmit",
            "notice_feedback_answer",
            "notice_follow_up_done",
            "notice-approve",
            "notice-reject",
            "task-kind",
            "task-close",
            "task-cancel",
            "task-reopen",
            "task-merge",
            "task-bulk-close",
            "task-verification",
        )
    },
    # Audit: access entries carry ids and accounts, never the person's data.
    "audit_log": NotPersonal("ids, accounts and reasons of reads"),
    "audit_person_export": NotPersonal("ids, accounts and reasons of reads; the export itself is logged"),
    # Statistics, dashboards, deliveries: aggregates.
    "dashboard": NotPersonal("aggregate figures", _on("dashboard")),
    "dashboard_geo": NotPersonal("public county boundaries with their codes", _on("dashboard_geo")),
    "stats": NotPersonal("aggregate figures", _on("stats")),
    "stats_export": NotPersonal("aggregate figures", _on("stats_export")),
    "api-stats": NotPersonal("aggregate figures", _on("api-stats")),
    "api-stats-sla": NotPersonal("aggregate figures", _on("api-stats-sla")),
    "api-stats-dashboard": NotPersonal("aggregate figures", _on("api-stats-dashboard")),
    "report_deliveries": NotPersonal("delivery attempts of report versions", _on("report_deliveries")),
    # Intake.
    "intake": NotPersonal("batch counts", _on("intake")),
    "intake_run_now": NotPersonal("a POST that answers with counts"),
    "intake_upload": NotPersonal("the upload form; a preview answers row errors by line"),
    "intake_upload_job": NotPersonal(
        "a large upload's progress and preview: row errors by line, its uploader's only"
    ),
    "intake_manual": NotPersonal("the form for one lead", _on("intake_manual")),
    "lead-list": NotPersonal(
        "source, external id, priority, divisions: no field of the person", _on("lead-list")
    ),
    "batch-list": NotPersonal("batch counts", _on("batch-list")),
    "batch-detail": NotPersonal("batch counts"),
    # Territory and accounts.
    "division-list": NotPersonal("the territory", _on("division-list")),
    "division-detail": NotPersonal("the territory"),
    "unit-list": NotPersonal("teams", _on("unit-list")),
    "unit-detail": NotPersonal("a team"),
    "dutyshift-list": NotPersonal("the roster", _on("dutyshift-list")),
    "dutyshift-detail": NotPersonal("a shift"),
    # Duty operations: roster, handover, workload (staff and counts; a handover keeps task ids, no person).
    "shift-list": NotPersonal("the roster: staff names and times", _on("shift-list")),
    "shift-detail": NotPersonal("a shift"),
    "shift-swap": NotPersonal("swaps two shifts (POST)"),
    "shift-handover": NotPersonal("writes a handover: counts and task ids (POST)"),
    "handover-list": NotPersonal("handovers: counts, task ids, staff notes", _on("handover-list")),
    "handover-detail": NotPersonal("a handover: counts, task ids, staff notes"),
    "handover-acknowledge": NotPersonal("acknowledges a handover (POST)"),
    "workload": NotPersonal("counts per member and team", _on("workload")),
    "duty_workload": NotPersonal("counts per member and team", _on("duty_workload")),
    "workload-predicted-breaches": NotPersonal(
        "counts per township, task numbers and staff", _on("workload-predicted-breaches")
    ),
    "duty_predicted_breaches": NotPersonal(
        "counts per township, task numbers and staff", _on("duty_predicted_breaches")
    ),
    "duty_roster": NotPersonal("the roster", _on("duty_roster")),
    "duty_shift_edit": NotPersonal("a shift"),
    "duty_shift_swap": NotPersonal("swaps two shifts (POST)"),
    "duty_handover_new": NotPersonal("the figures of a shift: counts and task numbers"),
    "duty_handover_list": NotPersonal("handovers", _on("duty_handover_list")),
    "duty_handover": NotPersonal("a handover: counts and task numbers"),
    "duty_handover_acknowledge": NotPersonal("acknowledges a handover (POST)"),
    "duty_handover_pdf": NotPersonal("a handover PDF: counts and task numbers"),
    "api-me": NotPersonal("the caller's own account", _on("api-me")),
    "api-root": NotPersonal("links", _on("api-root")),
    "api-schema": NotPersonal("the OpenAPI schema"),
    "api-docs": NotPersonal("Swagger UI"),
    "api-token": NotPersonal("issues a token (POST)"),
    "api-logout": NotPersonal("revokes the caller's token (POST)"),
    "login": NotPersonal("the login page"),
    "logout": NotPersonal("logs out"),
    "set_language": NotPersonal("sets the language"),
    "healthz": NotPersonal("health check"),
    "activate": NotPersonal("account activation"),
    "home": NotPersonal("the role's home page", _on("home")),
    "otp_verify": NotPersonal("the second-factor page"),
    "otp_setup": NotPersonal("the second-factor enrolment"),
    "field_offline": NotPersonal("the offline page"),
    "field_sw": NotPersonal("the service worker script"),
    # Workflow: ids, statuses, divisions, accounts.
    "task-trajectory-traced": NotPersonal("a write (POST); answers the task's state"),
    "task-bulk-assign": NotPersonal("a write (POST); answers ids"),
    **{
        name: NotPersonal("a write (POST); answers the task's state")
        for name in (
            "task-assign",
            "task-receive",
            "task-resolve",
            "task-transfer",
            "task-transfer-accept",
            "task-transfer-reject",
            "task_receive_page",
            "transfer_accept_page",
            "transfer_reject_page",
            "notifications_read",
            "notification-read",
        )
    },
    "escalation-list": NotPersonal("task ids, clocks and units", _on("escalation-list")),
    "escalation-detail": NotPersonal("task id, clock and unit"),
    "transfer-list": NotPersonal("task ids, divisions and reasons", _on("transfer-list")),
    "transfer-detail": NotPersonal("task id, divisions and reason"),
    "notification-list": NotPersonal("the caller's own notifications", _on("notification-list")),
    "notification-detail": NotPersonal("one of the caller's notifications"),
    "notification-unread-count": NotPersonal("a count", _on("notification-unread-count")),
    "notification_inbox": NotPersonal("the caller's own notifications", _on("notification_inbox")),
    "task_resolve_page": NotPersonal("division choice for one task", _on("task_resolve_page", **OPEN)),
    "division_pick": NotPersonal("division codes and names", lambda w: reverse("division_pick") + "?q=46"),
    "task_transfer_page": NotPersonal("division choice for one task", _on("task_transfer_page", **OPEN)),
    "receipts": NotPersonal("task ids and statuses", _on("receipts")),
    "transfer_inbox": NotPersonal("task ids, divisions and reasons", _on("transfer_inbox")),
    "bulk_assign": NotPersonal("task ids and accounts", _on("bulk_assign")),
    # Lab results (the monitoring app): the identity the lab gave is the person's data.
    "test-result-list": Personal(
        lambda w: _lab_results(w) or reverse("test-result-list"),
        ("duty_officer", "team_leader", "cdc_expert", "commander", "auditor", "admin"),
    ),
    "lab_queue": Personal(lambda w: _lab_results(w) or reverse("lab_queue"), ("duty_officer", "admin")),
    "lab_result_match": Personal(
        lambda w: reverse("lab_result_match", kwargs={"result_id": _lab_results(w, unmatched=True)}),
        ("duty_officer", "admin"),
    ),
    "lab_result_reject": NotPersonal("a queue action (POST): redirects to the queue"),
    # Monitoring periods (docs/monitoring.md): the person with case status, masked by role, reads logged.
    "monitoring-list": Personal(lambda w: _period(w) and reverse("monitoring-list"), TASK_VIEWERS),
    "monitoring-detail": Personal(
        lambda w: reverse("monitoring-detail", kwargs={"pk": _period(w).pk}), TASK_VIEWERS
    ),
    "monitoring_release_pdf": Personal(
        lambda w: reverse("monitoring_release_pdf", kwargs={"pk": _released_period(w).pk}),
        ("duty_officer", "commander"),
        searchable=False,
    ),
    "monitoring-checkins": NotPersonal("a write (POST); answers the check-in and the period's state"),
    "monitoring-release": NotPersonal("a write (POST); answers the period's state"),
    "monitoring-stats": NotPersonal("aggregate figures", _on("monitoring-stats")),
    "monitoring_stats": NotPersonal("aggregate figures", _on("monitoring_stats")),
    # Review actions (POST).
    **{
        name: NotPersonal("a review action (POST); answers the review")
        for name in (
            "review-approve",
            "review-assign",
            "review-claim",
            "review-comments",
            "review-return",
            "review_claim",
            "review_assign",
            "review_comment",
            "review_return",
            "review_approve",
        )
    },
}


# ---- the data: every personal field holds a value found nowhere else -------------------------------

PERSON = {"name": "欧阳锋华", "id_number": "460105199107071234", "phone": "13712345678"}
TASK_ADDRESS = "秀英大道88号3栋1201"
RADIUS = {"address": "秀华路77号2单元", "latitude": Decimal("20.987654"), "longitude": Decimal("110.876543")}
ENTRY = {
    "address": "滨海大道99号椰风阁",
    "latitude": Decimal("20.123987"),
    "longitude": Decimal("110.321987"),
    "vehicle_number": "琼A9K876",
    "seat": "厢17F座",
    "companions": "周伯通 13800001111",
}
CONTACT = {
    "name": "黄药师伯",
    "id_number": "460105198008081239",
    "phone": "13907559999",
    "address": "椰林路5号",
}


REGISTRATION = {"address": "椰风路12号"}


def sentinels() -> dict[str, str]:
    """Every personal value of the data below, as text to look for (coordinates: their digits)."""
    found = {}
    for record, values in (
        ("person", {**PERSON, "address": TASK_ADDRESS}),
        ("radius", RADIUS),
        ("trajectory", ENTRY),
        ("contact", CONTACT),
        ("registration", REGISTRATION),
    ):
        for name, kind in PERSONAL_FIELDS[record].items():
            value = str(values[name])
            if kind is Kind.COORDINATE:
                value = value[:8]
            elif kind is Kind.VEHICLE:
                value = value[2:]
            found[f"{record}.{name}"] = value
    return found


def _fill(task, actor) -> None:
    import uuid

    now = timezone.now()
    RadiusControl.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=actor,
        division_id=HOME_VILLAGE,
        measure="home_isolation",
        controlled_at=now - timedelta(hours=30),
        **RADIUS,
    )
    entry = TrajectoryEntry.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=actor,
        started_at=now - timedelta(days=3),
        ended_at=now - timedelta(days=3) + timedelta(hours=1),
        place_name="友谊超市",
        division_id=HOME_VILLAGE,
        transport="bus",
        **ENTRY,
    )
    CloseContact.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=actor,
        relation="colleague",
        last_contact_at=now - timedelta(days=2),
        last_contact_place="办公室",
        division_id=HOME_VILLAGE,
        **CONTACT,
    )
    Registration.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=actor,
        arrived_at=now - timedelta(days=4),
        arrived_from="广州",
        division_id=HOME_VILLAGE,
        health_state="no_symptoms",
        phone_confirmed=True,
        **REGISTRATION,
    )
    return entry


def _monitored(w: SimpleNamespace, name: str, *, abnormal: bool = False) -> str:
    """A period running today for the open task's person (and an abnormal check-in for the alert list);
    the URL of the monitoring page `name`."""
    import uuid

    from monitoring.clock import local_day
    from monitoring.models import MonitoringPeriod
    from monitoring.services.checkins import record_checkin
    from tests.monitoring_fixtures import make_period

    now = timezone.now()
    period = MonitoringPeriod.objects.filter(task=w.open).first() or make_period(
        w.open, starts_on=local_day(now) - timedelta(days=1), now=now
    )
    if abnormal:
        record_checkin(period, channel="field", temperature="38.4", idempotency_key=uuid.uuid4())
    if name == "monitoring_period":
        return reverse(name, kwargs={"period_id": period.pk})
    return reverse(name)


def _period(w):
    """The running monitoring period of the open task's person (one per person: made once)."""
    if not hasattr(w, "period"):
        from tests.monitoring_fixtures import make_period

        w.period = make_period(w.open, starts_on=timezone.localdate(), now=timezone.now())
    return w.period


def _released_period(w):
    from tests.monitoring_fixtures import make_period

    return make_period(w.open, state="released", released_at=timezone.now(), now=timezone.now())


def _person():
    return PersonFactory(**PERSON)


@pytest.fixture
def admin(hainan):
    return UserFactory(username="adam", full_name="管理员辛", role=Role.ADMIN, division_id="46")


@pytest.fixture
def world(hainan, field_staff):
    from reports.models import ReportVersion
    from reports.services import report_snapshot
    from reviews.models import Review
    from tests.factories import TracingTaskFactory
    from tests.fieldwork_helpers import dispatched_task
    from tests.notice_fixtures import notice_in_review

    open_task = dispatched_task(field_staff, address=TASK_ADDRESS)
    person = open_task.person
    for name, value in PERSON.items():
        setattr(person, name, value)
    person.save()
    entry = _fill(open_task, field_staff)
    reviewed = TracingTaskFactory(status="submitted", person=_person(), address=TASK_ADDRESS)
    _fill(reviewed, field_staff)
    review = Review.objects.create(task=reviewed)
    ReportVersion.objects.create(
        task=reviewed, number=1, reason="approval", data=report_snapshot(reviewed), digest=""
    )
    TracingTaskFactory(
        person=_person(), division_id=HOME_COUNTY, address=TASK_ADDRESS, unresolved_reason="地址中未找到村名"
    )
    notice = notice_in_review()
    from notices.models import Notice

    Notice.objects.filter(pk=notice.pk).update(person=person, task=open_task)
    notice.refresh_from_db()
    from tasks.duplicates import find_duplicates

    # A second record of the open task's person (same name and phone): one likely-duplicate pair.
    TracingTaskFactory(person=_person(), status="dispatched", address=TASK_ADDRESS)
    find_duplicates()
    return SimpleNamespace(open=open_task, entry=entry, reviewed=reviewed, review=review, notice=notice)


def _lab_results(w, *, unmatched: bool = False):
    """A matched result of the open task's person (home village) and an unmatched one in the county,
    both carrying the person's identity as a lab gives it; returns the unmatched one's id when asked."""
    from monitoring.models import LabResult
    from tasks import validation

    identity = {
        "name": PERSON["name"],
        "id_number": PERSON["id_number"],
        "id_number_hash": validation.id_number_hash(PERSON["id_number"]),
        "phone": PERSON["phone"],
    }
    common = {
        "lab": "市疾控实验室",
        "sampled_at": timezone.now(),
        "test_type": "nucleic_acid",
        "result": "negative",
    }
    matched = {"person": w.open.person, "task": w.open, "division_id": HOME_VILLAGE, "match_state": "matched"}
    LabResult.objects.get_or_create(sample_id="W-M", defaults={**common, **identity, **matched})
    waiting, _created = LabResult.objects.get_or_create(
        sample_id="W-U", defaults={**common, **identity, "division_id": HOME_COUNTY}
    )
    return waiting.pk if unmatched else None


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode("utf-8", errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


def _request(client, spec: Personal, url: str):
    if spec.method == "post":
        return client.post(url, spec.data)
    return client.get(url)


# ---- the walk ----------------------------------------------------------------------------------------


def test_every_route_has_a_masking_and_logging_entry():
    missing = sorted(set(project_routes()) - set(ENTRIES))
    assert not missing, f"routes without a masking/logging entry in {__name__}: {missing}"


def test_no_stale_entries():
    assert not sorted(set(ENTRIES) - set(project_routes()))


def _cases(kind):
    return [
        pytest.param(
            name,
            spec,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=spec.gap)] if getattr(spec, "gap", "") else [],
        )
        for name, spec in ENTRIES.items()
        if isinstance(spec, kind)
    ]


@pytest.mark.parametrize(("name", "spec"), _cases(Personal))
def test_a_route_with_personal_data_masks_it_by_role_and_logs_every_read(
    request, client, password, world, admin, name, spec
):
    values = sentinels()
    url = spec.url(world)
    for reader in spec.readers:
        account = request.getfixturevalue(reader)
        client.logout()
        assert client.login(username=account.username, password=password)
        before = AccessLog.objects.filter(user=account).count()
        response = _request(client, spec, url)
        assert response.status_code == 200, (reader, response.status_code)
        assert AccessLog.objects.filter(user=account).count() > before, (
            f"{name}: a read by {reader} left no log"
        )
        if not spec.searchable or not spec.maskable:
            continue
        text = _text(response)
        shown = {key for key, value in values.items() if value in text}
        if sees_unmasked(account):
            assert shown, f"{name}: {reader} should see the person's data in full"
        else:
            assert not shown, f"{name}: {reader} sees {sorted(shown)} unmasked"


def test_the_routes_declared_without_personal_data_show_none(client, password, world, duty_officer):
    """One pass over every NotPersonal route that can be requested, by a role that sees data in full."""
    assert client.login(username=duty_officer.username, password=password)
    values = sentinels()
    wrong = {}
    for name, spec in ENTRIES.items():
        if not isinstance(spec, NotPersonal) or spec.url is None:
            continue
        response = client.get(spec.url(world))
        assert response.status_code == 200, (name, response.status_code)
        text = _text(response)
        shown = sorted(key for key, value in values.items() if value in text)
        if shown:
            wrong[name] = shown
    assert not wrong, f"routes declared without personal data show some (declare them Personal): {wrong}"


# ---- every field, every role -------------------------------------------------------------------------

RECORDS = {
    "radius": ("radius", RADIUS),
    "trajectory": ("trajectory", ENTRY),
    "contacts": ("contact", CONTACT),
    "registrations": ("registration", REGISTRATION),
}


@pytest.mark.parametrize("role", list(Role.values))
def test_every_personal_field_of_the_field_work_api_follows_the_policy(api_client, world, role):
    """Each field of PERSONAL_FIELDS, through the one answer that carries every record, for each role:
    in full for the roles that work with the person, masked as the policy says for the others."""
    account = UserFactory(role=role, division_id=HOME_VILLAGE if role in ("field_staff",) else HOME_COUNTY)
    api_client.force_authenticate(account)
    data = api_client.get(reverse("task-fieldwork", kwargs={"task_id": world.open.pk})).json()
    unmasked = sees_unmasked(account)
    for key, (record, values) in RECORDS.items():
        (row,) = data[key]
        division_name = world.open.division.name
        for name, kind in PERSONAL_FIELDS[record].items():
            raw = values[name]
            expected = raw if unmasked else mask_value(kind, raw, division_name)
            got = row[name]
            if kind is Kind.COORDINATE and got is not None:
                got = Decimal(got)
            assert got == expected, (role, record, name, got)
    detail = api_client.get(reverse("task-detail", kwargs={"pk": world.open.pk})).json()
    for name, kind in PERSONAL_FIELDS["person"].items():
        shown = detail["address"] if name == "address" else detail["person"][name]
        raw = TASK_ADDRESS if name == "address" else PERSON[name]
        assert shown == (raw if unmasked else mask_value(kind, raw, world.open.division.name)), (role, name)


def test_the_report_snapshot_and_pdf_are_masked_by_the_same_policy(world, commander, duty_officer):
    from reports.reading import masked_for
    from reports.services import report_snapshot

    data = report_snapshot(world.reviewed)
    values = sentinels()
    masked = json.dumps(masked_for(commander, data), ensure_ascii=False)
    full = json.dumps(masked_for(duty_officer, data), ensure_ascii=False)
    in_report = {key for key, value in values.items() if value in full}
    assert {"person.name", "person.phone", "trajectory.companions", "contact.phone"} <= in_report
    assert not {key for key, value in values.items() if value in masked}
