"""Walks every URL pattern of the project and checks that an account sees nothing outside its
territory: objects of another village answer 404, lists leave them out.

Every route must be listed in ROUTES; a new route without an entry fails `test_every_route_is_covered`,
so no feature can land without saying how its scope is tested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tasks.models import Division, Unit
from tests.account_fixtures import home_county_account, other_county_account
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.scope_routes_monitoring_life import monitoring_life_routes

# Every check reads the test database; marking the module keeps a filtered run (-k) off the dev one.
pytestmark = pytest.mark.django_db


@dataclass
class Public:
    """Reachable without an account (login, health check, static API docs schema needs login)."""


@dataclass
class AdminOnly:
    """Django admin: staff only; a field account is sent to the admin login."""


@dataclass
class NoObject:
    """Pages and endpoints that show only the caller's own data or none (home, me, logout)."""


@dataclass
class Detail:
    """An object of another village must answer 404."""

    make: Callable[[], object]
    kwargs: Callable[[object], dict]
    method: str = "get"
    # The fixture of the account that walks the route (a role that may use it at all).
    account: str = "field_staff"


@dataclass
class ListOf:
    """A list must not contain the other village's objects."""

    make: Callable[[], object]
    key: Callable[[dict], str]
    value: Callable[[object], str]
    # Make a record the account may see, when the default fixtures give it none; None = it sees none.
    own: Callable[[], object] | None = None
    account: str = "field_staff"
    # Extra query parameters (e.g. {"format": "json"} for a page that also answers JSON).
    params: dict | None = None


@dataclass
class PageList:
    """A server-rendered list page: the other village's objects are not among `context[context_key]`."""

    make: Callable[[], object]
    own: Callable[[], object] | None = None
    kwargs: Callable[[object], dict] | None = None
    context_key: str = "tasks"
    account: str = "field_staff"


def other_village():
    return Division.objects.get(code=OTHER_VILLAGE_SAME_TOWNSHIP)


def other_subunit():
    return Unit.objects.get(kind="subunit", division_id=OTHER_VILLAGE_SAME_TOWNSHIP)


def _shift(division_code):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import DutyShift
    from tests.factories import UserFactory

    desk = Unit.objects.get(kind="duty_desk", division_id=division_code)
    officer = UserFactory(role="duty_officer", division_id=division_code)
    now = timezone.now()
    return DutyShift.objects.create(unit=desk, user=officer, starts_at=now, ends_at=now + timedelta(hours=24))


def other_county_shift():
    return _shift("460106")


def own_shift():
    # A village account sees no duty desk (desks sit at county level and above): nothing of its own.
    return None


def other_village_task():
    from tests.factories import TracingTaskFactory

    return TracingTaskFactory(division=other_village())


def own_village_task():
    from tests.factories import TracingTaskFactory

    return TracingTaskFactory(division_id=HOME_VILLAGE)


def _unresolved_task(division_code):
    from tests.factories import TracingTaskFactory

    return TracingTaskFactory(division_id=division_code, unresolved_reason="地址中未找到村名")


def _lab_result(division_code):
    from django.utils import timezone

    from monitoring.models import LabResult

    return LabResult.objects.create(
        lab="市疾控实验室",
        sample_id=f"S-{division_code}-{LabResult.objects.count()}",
        sampled_at=timezone.now(),
        test_type="nucleic_acid",
        result="negative",
        name="王五",
        division_id=division_code,
    )


def _lead_in(division_code):
    from django.utils import timezone

    from tasks.models import Lead

    return Lead.objects.create(
        source="hotline", name="王五", division_id=division_code, reported_at=timezone.now(), priority=6
    )


def _access_entry(division_code, actor_division):
    """An access-log entry about a task in `division_code`, read by an account of `actor_division`."""
    from tasks.access_log import record_access
    from tasks.models import AccessAction, AccessLog
    from tests.factories import TracingTaskFactory, UserFactory

    task = TracingTaskFactory(division=Division.objects.get(code=division_code))
    reader = UserFactory(role="duty_officer", division_id=actor_division)
    record_access(reader, action=AccessAction.VIEW, objects=[task])
    return AccessLog.objects.filter(task_id=task.pk).latest("id")


def _review_in(village_code):
    """An open review of a submitted task in `village_code` (reviews, issue 6)."""
    from reviews.models import Review
    from tests.factories import TracingTaskFactory

    task = TracingTaskFactory(division=Division.objects.get(code=village_code), status="submitted")
    return Review.objects.create(task=task)


def other_county_review():
    return _review_in("460106001002")


def other_village_field_task():
    """A task dispatched to the other village of the home township (issue 5)."""
    from tests.fieldwork_helpers import dispatched_task

    return dispatched_task(division=OTHER_VILLAGE_SAME_TOWNSHIP)


def own_field_task():
    from tests.fieldwork_helpers import dispatched_task

    return dispatched_task()


def other_village_trajectory_entry():
    import uuid

    from django.utils import timezone

    from tasks.models import TrajectoryEntry
    from tests.factories import UserFactory

    task = other_village_field_task()
    now = timezone.now()
    worker = UserFactory(role="field_staff", division_id=OTHER_VILLAGE_SAME_TOWNSHIP)
    return TrajectoryEntry.objects.create(
        task=task,
        idempotency_key=uuid.uuid4(),
        created_by=worker,
        started_at=now,
        ended_at=now,
        place_name="超市",
    )


def _notice_in(village_code, state="county_review"):
    """A notice of a person in `village_code` (notices, issue 8), moved to `state`."""
    from django.utils import timezone

    from notices.models import Notice
    from tests.notice_fixtures import notice_in_review

    notice = notice_in_review(division=village_code)
    now = timezone.now()
    extra = {}
    if state in ("rejected_county", "rejected_city"):
        extra = {"rejection_reason": "x", "rejected_at": now}
    Notice.objects.filter(pk=notice.pk).update(state=state, **extra)
    notice.refresh_from_db()
    return notice


def _pushed_notice_in(village_code):
    from django.utils import timezone

    from notices.models import Notice
    from tests.factories import UserFactory

    notice = _notice_in(village_code)
    reviewer = UserFactory(role="duty_officer", division_id=village_code[:6])
    now = timezone.now()
    Notice.objects.filter(pk=notice.pk).update(
        state="pushed",
        county_reviewer=reviewer,
        city_reviewer=reviewer,
        approved_at=now,
        push_after=now,
        push_due=now,
        pushed_at=now,
        token_hash=f"h{notice.pk}",
    )
    notice.refresh_from_db()
    return notice


def _notice_feedback_in(village_code):
    from django.utils import timezone

    from notices.models import NoticeFeedback

    now = timezone.now()
    return NoticeFeedback.objects.create(notice=_pushed_notice_in(village_code), text="不对", due_at=now)


def _notice_follow_up_in(village_code):
    from notices.models import NoticeFollowUp

    notice = _pushed_notice_in(village_code)
    return NoticeFollowUp.objects.create(notice=notice, division_id=village_code)


OTHER_COUNTY_VILLAGE = "460106001002"


ROUTES: dict[str, object] = {
    "login": Public(),
    "logout": NoObject(),
    "set_language": Public(),
    "healthz": Public(),
    "activate": Public(),
    "home": NoObject(),
    # Account administration: an administrator of the home county (460105) does not see, open or change
    # an account of another county (404); the create, onboarding and export routes are checked in
    # tests/test_account_admin.py (no scope wider than the administrator's, rows outside rejected, the
    # activation rate counts only the territory).
    "account_list": PageList(
        other_county_account, own=home_county_account, context_key="accounts", account="county_admin"
    ),
    "account_activation_export": NoObject(),
    "account_create": NoObject(),
    "account_onboard": NoObject(),
    "account_onboard_slips": NoObject(),
    "account_edit": Detail(other_county_account, kwargs=lambda a: {"pk": a.pk}, account="county_admin"),
    "account_deactivate": Detail(
        other_county_account, kwargs=lambda a: {"pk": a.pk}, method="post", account="county_admin"
    ),
    "account_reactivate": Detail(
        other_county_account, kwargs=lambda a: {"pk": a.pk}, method="post", account="county_admin"
    ),
    "account_reset_second_factor": Detail(
        other_county_account, kwargs=lambda a: {"pk": a.pk}, method="post", account="county_admin"
    ),
    "account_slip": Detail(
        other_county_account, kwargs=lambda a: {"pk": a.pk}, method="post", account="county_admin"
    ),
    # Search answers only inside the caller's territory (tests/test_search.py: an outsider finds
    # nothing); the county boundaries are public map data.
    "search": NoObject(),
    "dashboard_geo": NoObject(),
    "api-schema": NoObject(),
    "api-docs": NoObject(),
    "api-token": Public(),
    "api-logout": NoObject(),
    "api-me": NoObject(),
    "api-root": NoObject(),
    "division-list": ListOf(other_village, key=lambda row: row["code"], value=lambda d: d.code),
    "division-detail": Detail(other_village, kwargs=lambda d: {"code": d.code}),
    "unit-list": ListOf(other_subunit, key=lambda row: row["id"], value=lambda u: u.id),
    "unit-detail": Detail(other_subunit, kwargs=lambda u: {"pk": u.pk}),
    "dutyshift-list": ListOf(
        lambda: other_county_shift(), key=lambda row: row["id"], value=lambda s: s.id, own=lambda: own_shift()
    ),
    "dutyshift-detail": Detail(lambda: other_county_shift(), kwargs=lambda s: {"pk": s.pk}),
    # Intake (issue 3). Batches carry global counts only (no personal data); their task lists are scoped.
    "intake": NoObject(),
    # The transfer picker names divisions of the whole tree on purpose (code, name, level: no object
    # behind them); tests/test_loop_pages.py checks it answers nothing more.
    "division_pick": NoObject(),
    # A CSV, not a page: tests/test_loop_pages.py checks it leaves out the other village and county.
    "task_export": NoObject(),
    "intake_run_now": NoObject(),
    "intake_upload": NoObject(),
    "intake_upload_job": NoObject(),  # the uploader's own job only (404 for anyone else: tests/test_uploads.py)
    "intake_manual": NoObject(),
    "batch-list": NoObject(),
    "batch-detail": NoObject(),
    "lead-list": ListOf(
        lambda: _lead_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        key=lambda row: row["id"],
        value=lambda lead: lead.id,
        own=lambda: _lead_in("460106001002"),
        account="outsider",
    ),
    "task-list": ListOf(
        other_village_task, key=lambda row: row["id"], value=lambda t: t.pk, own=own_village_task
    ),
    "task-detail": Detail(other_village_task, kwargs=lambda t: {"pk": t.pk}),
    "task_list": PageList(other_village_task, own=own_village_task),
    "intake_batch": PageList(
        other_village_task, own=own_village_task, kwargs=lambda t: {"batch_id": t.batch_id}
    ),
    "unresolved_queue": PageList(
        lambda: _unresolved_task("460105001"), own=lambda: _unresolved_task("460106001"), account="outsider"
    ),
    # Lab results: an unmatched one waits in the territory of the lab account that sent it.
    "test-result-list": ListOf(
        lambda: _lab_result(OTHER_VILLAGE_SAME_TOWNSHIP),
        key=lambda row: row["id"],
        value=lambda result: result.id,
        own=lambda: _lab_result("460106"),
        account="outsider",
    ),
    "lab_queue": PageList(
        lambda: _lab_result("460105"),
        own=lambda: _lab_result("460106"),
        account="outsider",
        context_key="results",
    ),
    "lab_result_match": Detail(
        lambda: _lab_result("460105"), kwargs=lambda r: {"result_id": r.pk}, account="outsider"
    ),
    "lab_result_reject": Detail(
        lambda: _lab_result("460105"), kwargs=lambda r: {"result_id": r.pk}, method="post", account="outsider"
    ),
    # Security (issue 9)
    "otp_verify": NoObject(),
    "otp_setup": NoObject(),
    "task_reveal": Detail(other_village_task, kwargs=lambda t: {"pk": t.pk}, method="post"),
    "task-reveal": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}, method="post"),
    # An auditor of the home county (460105) does not see reads of another county's data by its staff.
    "audit_log": ListOf(
        lambda: _access_entry("460106001002", "460106"),
        key=lambda row: row["id"],
        value=lambda entry: entry.id,
        own=lambda: _access_entry(HOME_VILLAGE, "460105"),
        account="auditor",
        params={"format": "json"},
    ),
    "audit_person_export": Detail(lambda: other_village_task().person, kwargs=lambda p: {"person_id": p.pk}),
    # Reviews (issue 6): the home county's expert does not see another county's reviews (API and pages);
    # a field account does not see the review comments of another village's task.
    "review-list": ListOf(
        other_county_review,
        key=lambda row: row["id"],
        value=lambda r: r.id,
        own=lambda: _review_in(HOME_VILLAGE),
        account="cdc_expert",
    ),
    "review-detail": Detail(other_county_review, kwargs=lambda r: {"pk": r.pk}, account="cdc_expert"),
    "review-claim": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review-assign": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review-comments": Detail(other_county_review, kwargs=lambda r: {"pk": r.pk}, account="cdc_expert"),
    "review-return": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review-approve": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "task-review-comments": Detail(other_village_task, kwargs=lambda t: {"task_id": t.pk}),
    "review_queue": ListOf(
        other_county_review,
        key=lambda row: row["id"],
        value=lambda r: r.id,
        own=lambda: _review_in(HOME_VILLAGE),
        account="cdc_expert",
        params={"format": "json"},
    ),
    "review_detail": Detail(other_county_review, kwargs=lambda r: {"pk": r.pk}, account="cdc_expert"),
    "review_claim": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review_assign": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review_comment": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review_return": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    "review_approve": Detail(
        other_county_review, kwargs=lambda r: {"pk": r.pk}, method="post", account="cdc_expert"
    ),
    # Field work (issue 5): another village's task, its records and its trajectory entries do not exist
    # for a field account; its own open tasks are listed, the other village's are not.
    "field_tasks": NoObject(),
    "field_task": Detail(other_village_field_task, kwargs=lambda t: {"task_id": t.pk}),
    "field_offline": Public(),
    "field_sw": Public(),
    "field-task-list": ListOf(
        other_village_field_task,
        key=lambda row: row["id"],
        value=lambda t: t.pk,
        own=lambda: own_field_task(),
    ),
    **{
        name: Detail(other_village_field_task, kwargs=lambda t: {"task_id": t.pk})
        for name in (
            "task-fieldwork",
            "task-attempts",
            "task-radius",
            "task-trajectory",
            "task-contacts",
            "task-tests",
            "task-submit",
            "task-registration",
        )
    },
    "task-trajectory-traced": Detail(
        other_village_field_task, kwargs=lambda t: {"task_id": t.pk}, method="post"
    ),
    "task-trajectory-entry": Detail(
        other_village_trajectory_entry, kwargs=lambda e: {"task_id": e.task_id, "entry_id": e.pk}
    ),
    # Notices (issue 8): a county desk does not see another county's notices, feedback or figures; a
    # field account sees its own village's follow-ups only. The person's page, its actions, the board
    # and the SMS webhook are public: the unguessable personal token (wrong or expired → 404, tested in
    # tests/test_notice_person.py), aggregate data only, and an HMAC signature guard them.
    "notice_list": ListOf(
        lambda: _notice_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["id"],
        value=lambda n: n.pk,
        own=lambda: _notice_in(HOME_VILLAGE),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice_queue_county": ListOf(
        lambda: _notice_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["id"],
        value=lambda n: n.pk,
        own=lambda: _notice_in(HOME_VILLAGE),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice_queue_city": ListOf(
        lambda: _notice_in(OTHER_COUNTY_VILLAGE, "city_review"),
        key=lambda row: row["id"],
        value=lambda n: n.pk,
        own=lambda: _notice_in(HOME_VILLAGE, "city_review"),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice_returned": ListOf(
        lambda: _notice_in(OTHER_COUNTY_VILLAGE, "rejected_county"),
        key=lambda row: row["id"],
        value=lambda n: n.pk,
        own=lambda: _notice_in(HOME_VILLAGE, "rejected_county"),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice_feedback_queue": ListOf(
        lambda: _notice_feedback_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["id"],
        value=lambda f: f.pk,
        own=lambda: _notice_feedback_in(HOME_VILLAGE),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice_follow_ups": ListOf(
        lambda: _notice_follow_up_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        key=lambda row: row["id"],
        value=lambda f: f.pk,
        own=lambda: _notice_follow_up_in(HOME_VILLAGE),
        params={"format": "json"},
    ),
    "notice_evaluation": ListOf(
        lambda: _pushed_notice_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["division"],
        value=lambda n: n.division_id[:6],
        own=lambda: _pushed_notice_in(HOME_VILLAGE),
        account="duty_officer",
        params={"format": "json"},
    ),
    "notice-list": ListOf(
        lambda: _notice_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["id"],
        value=lambda n: n.pk,
        own=lambda: _notice_in(HOME_VILLAGE),
        account="duty_officer",
    ),
    "notice-evaluation": ListOf(
        lambda: _pushed_notice_in(OTHER_COUNTY_VILLAGE),
        key=lambda row: row["division"],
        value=lambda n: n.division_id[:6],
        own=lambda: _pushed_notice_in(HOME_VILLAGE),
        account="duty_officer",
    ),
    **{
        name: Detail(
            lambda: _notice_in(OTHER_COUNTY_VILLAGE), kwargs=lambda n: {"pk": n.pk}, account="duty_officer"
        )
        for name in ("notice_detail", "notice-detail")
    },
    **{
        name: Detail(
            lambda: _notice_in(OTHER_COUNTY_VILLAGE),
            kwargs=lambda n: {"pk": n.pk},
            method="post",
            account="duty_officer",
        )
        for name in ("notice_approve", "notice_reject", "notice_resubmit", "notice-approve", "notice-reject")
    },
    "notice_feedback_answer": Detail(
        lambda: _notice_feedback_in(OTHER_COUNTY_VILLAGE),
        kwargs=lambda f: {"pk": f.pk},
        method="post",
        account="duty_officer",
    ),
    "notice_follow_up_done": Detail(
        lambda: _notice_follow_up_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        kwargs=lambda f: {"pk": f.pk},
        method="post",
    ),
    "notice_templates": NoObject(),  # administrators only; no territorial data
    "notice_template_edit": NoObject(),
    "notice_rules": NoObject(),  # a batch rule only reaches persons inside the actor's territory (tested in the service)
    "notice_person": Public(),
    "notice_person_ack": Public(),
    "notice_person_feedback": Public(),
    "notice_board": Public(),
    "notice-sms-inbound": Public(),
    # Supervision orders (duty app): an order exists in its issuer's and its owner's territory only; the
    # walker's field account owns one in person and must not see the other village's sub-unit's.
    "supervision_order_list": PageList(
        lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        own=lambda: _order_of_field_staff(),
        context_key="orders",
    ),
    "supervision-order-list": ListOf(
        lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        key=lambda row: row["id"],
        value=lambda o: o.pk,
        own=lambda: _order_of_field_staff(),
    ),
    "supervision_order_new": NoObject(),  # owners and attachments are checked against the issuer's territory
    "supervision_order_stats": NoObject(),  # aggregates of the visible orders (tests/test_supervision_orders.py)
    **{
        name: Detail(lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=lambda o: {"order_id": o.pk})
        for name in ("supervision_order_detail",)
    },
    "supervision_order_action": Detail(
        lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP),
        kwargs=lambda o: {"order_id": o.pk, "action": "acknowledge"},
        method="post",
    ),
    "supervision-order-detail": Detail(
        lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=lambda o: {"pk": o.pk}
    ),
    **{
        f"supervision-order-{action}": Detail(
            lambda: _order_in(OTHER_VILLAGE_SAME_TOWNSHIP), kwargs=lambda o: {"pk": o.pk}, method="post"
        )
        for action in ("acknowledge", "reply", "complete", "accept", "send-back")
    },
    # Monitoring periods: API, release notice, statistics (inside the literal: walked by the cases below).
    **monitoring_life_routes(Detail, ListOf, NoObject),
}

# Monitoring pages (added here, before the walkers below are parametrized): due today, the period page,
# the alert list, the person's link.
from tests.scope_routes_monitoring import monitoring_page_routes  # noqa: E402

ROUTES.update(monitoring_page_routes(Detail, PageList, Public))


def _order_in(village_code):
    from tests.order_fixtures import order_in

    return order_in(village_code)


def _order_of_field_staff():
    from tasks.models import User
    from tests.factories import UserFactory
    from tests.order_fixtures import make_order

    issuer = UserFactory(role="duty_officer", division_id="460105")
    return make_order(issuer=issuer, owner_user=User.objects.get(username="bob"))


# The areas' entries, added before the walkers below are parametrized (else they would not be walked).
from tests.scope_routes_workflow import workflow_routes  # noqa: E402

ROUTES.update(workflow_routes(Detail, ListOf, NoObject))

from tests.scope_routes_worktypes import worktype_routes  # noqa: E402

ROUTES.update(worktype_routes(Detail, NoObject))

# Reports (issue 7)
from tests.test_report_scope import reports_routes  # noqa: E402

ROUTES.update(reports_routes(Detail, ListOf, NoObject, PageList))

# Duty operations: roster, handover, workload
from tests.scope_routes_duty_roster import roster_routes  # noqa: E402

ROUTES.update(roster_routes(Detail, ListOf, NoObject, PageList))


def walk(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or entry.pattern}", entry


def project_routes() -> dict[str, URLPattern]:
    routes = {}
    for name, pattern in walk(get_resolver()):
        if name.startswith("admin:"):
            continue
        # DRF registers a format-suffix twin of every route (same name); one entry covers both.
        routes.setdefault(name, pattern)
    return routes


def test_every_route_is_covered():
    missing = sorted(set(project_routes()) - set(ROUTES))
    assert not missing, f"routes without a scope test entry in tests/test_scope_routes.py: {missing}"


def test_no_stale_entries():
    stale = sorted(set(ROUTES) - set(project_routes()))
    assert not stale, f"entries for routes that no longer exist: {stale}"


def _cases(kind):
    return [pytest.param(name, spec, id=name) for name, spec in ROUTES.items() if isinstance(spec, kind)]


@pytest.mark.parametrize(("name", "spec"), _cases(Detail))
def test_an_object_of_another_village_does_not_exist_for_a_field_account(
    request, client, password, name, spec
):
    from django.urls import reverse

    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    response = getattr(client, spec.method)(reverse(name, kwargs=spec.kwargs(obj)))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "spec"), _cases(ListOf))
def test_a_list_leaves_out_the_other_village(request, client, password, name, spec):
    from django.urls import reverse

    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    own = spec.own() if spec.own else True
    response = client.get(reverse(name), {"page_size": 1000, **(spec.params or {})})
    assert response.status_code == 200
    seen = {spec.key(row) for row in response.json()["results"]}
    assert spec.value(obj) not in seen
    if own is not None:
        assert seen, "the list should show the account's own records"


@pytest.mark.parametrize(("name", "spec"), _cases(PageList))
def test_a_page_list_leaves_out_the_other_village(request, client, password, name, spec):
    from django.urls import reverse

    account = request.getfixturevalue(spec.account)
    client.login(username=account.username, password=password)
    obj = spec.make()
    own = spec.own() if spec.own else None
    response = client.get(reverse(name, kwargs=spec.kwargs(obj) if spec.kwargs else None))
    assert response.status_code == 200
    shown = list(response.context[spec.context_key])
    assert obj not in shown
    if own is not None and not spec.kwargs:
        assert own in shown, "the page should list the account's own records"


def test_a_field_account_sees_only_its_own_village_in_the_division_list(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    codes = [row["code"] for row in client.get("/api/v1/divisions/").json()["results"]]
    assert codes == [HOME_VILLAGE]


def test_the_admin_is_for_staff_only(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
