"""Fuzzing every write endpoint of the API (issue 9): malformed input gets a 4xx, never a 5xx, and never
changes a record.

The write operations are read from the OpenAPI schema drf-spectacular generates in-process (every
POST/PUT/PATCH/DELETE under /api/v1/), so a new write endpoint is fuzzed automatically: it gets the
default scenario (a duty officer, path parameters filled with a real task of the home village) until
a scenario of its own is added to SCENARIOS. Each operation is called by an account that may use it,
on REAL objects in its scope (a task dispatched to bob's village, a claimed review, a notice in county
review…), with a valid body of that operation ("base") corrupted by hypothesis:

* not-an-object JSON (lists, numbers, strings, null, a 100,000-character string);
* the base with one or more known fields (from the schema's requestBody, or the documented fields of
  the field-work endpoints) replaced by a value of the wrong type: nested objects and lists, booleans,
  unparseable strings for integers / UUIDs / dates / choices / booleans, text containing NUL, text
  of 100,000 characters where the field has a length limit. Numbers given for text fields are NOT
  counted as malformed: DRF's CharField (and the field-work forms) accept them as their decimal text;
* unknown fields only;
* bytes that are not JSON, sent as application/json.

Operations that need no body (receive, claim, approve a notice, accept a transfer) would rightly
accept any of those bodies: they are sent to an object in the WRONG state instead (a task already
received, a review claimed by another expert…), where every call must be refused.

"No record changed": a fingerprint (row count and sum of row hashes) of every table of the tasks,
reviews and reports apps, except the logs that legitimately record reads and logins, is taken before
and after each call. POST /api/v1/leads/ records rejected rows by design (tasks_leadrejection, the
intake's contract): lists of malformed rows may change that table only, and must not give a 5xx.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.conftest import HOME_VILLAGE, OTHER_COUNTY

pytestmark = pytest.mark.django_db

# Tables whose changes are legitimate on a refused request: logs of reads, logins and sessions.
UNWATCHED = {"tasks_accesslog", "reports_exportlog"}
WATCHED_PREFIXES = ("tasks_", "reviews_", "reports_", "monitoring_")
UNWATCHED_FRAGMENTS = ("accesslog", "auditlog", "axes", "session", "otp")

HUGE = "x" * 100_000
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---- the write operations of the schema ---------------------------------------------------------------


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict | None) -> dict | None:
    while node and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def write_operations() -> list[dict]:
    schema = _schema()
    ops = []
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            body = _resolve(
                schema,
                ((op.get("requestBody") or {}).get("content", {}).get("application/json") or {}).get(
                    "schema"
                ),
            )
            fields = {}
            if body and body.get("type") == "object":
                for name, prop in (body.get("properties") or {}).items():
                    prop = _resolve(schema, prop) or {}
                    if prop.get("readOnly"):
                        continue
                    fields[name] = prop
            ops.append(
                {
                    "id": op["operationId"],
                    "method": method,
                    "path": path,
                    "fields": fields,
                    "body_schema": body,
                }
            )
    return ops


OPERATIONS = write_operations()


def test_the_schema_lists_write_operations_and_each_has_a_scenario():
    ids = [op["id"] for op in OPERATIONS]
    print(
        "write operations fuzzed:", *(f"{op['method'].upper()} {op['path']}" for op in OPERATIONS), sep="\n  "
    )
    assert len(ids) >= 20, ids
    assert len(set(ids)) == len(ids)
    # A new endpoint runs with the default scenario; this names it so a specific one can be written.
    assert sorted(set(ids) - set(SCENARIOS)) == [], "write operations without a specific scenario"


# ---- hypothesis strategies of malformed values --------------------------------------------------------

scalar = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
)
nested = st.one_of(
    st.dictionaries(st.text(max_size=8), scalar, min_size=1, max_size=3),
    st.lists(scalar, min_size=1, max_size=3),
    st.lists(st.dictionaries(st.text(max_size=4), scalar, max_size=2), min_size=1, max_size=2),
)
nul_text = st.text(max_size=12).map(lambda s: f"{s}\x00{s}")
not_number = st.sampled_from(
    ["abc", "1,5", "0x1f", "一", "1.2.3", "--1", "1e", "NaN!", " ", "\x00"]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz!@#$%", min_size=1, max_size=12)
not_time = (
    st.sampled_from(["yesterday", "2026-13-45T25:61:00", "31/12/2026", "12:00", "2026-02-30", "T", "\x00"])
    | not_number
)
not_choice = st.sampled_from(["__nope__", "PHONE ", "Home_Isolation", "\x00", "0"]) | st.text(
    alphabet="XYZ_", min_size=1, max_size=10
)
not_bool = st.sampled_from(["maybe", "2", "tru", "\x00", "null"]) | st.integers(min_value=2)


def bad_value(kind: str, *, limited: bool = True) -> st.SearchStrategy:
    """A value that is wrong for a field of `kind`."""
    if kind == "text":
        return st.one_of(nested, st.booleans(), nul_text, *([st.just(HUGE)] if limited else []))
    if kind in ("int", "version"):
        return st.one_of(nested, not_number, nul_text)
    if kind == "decimal":
        return st.one_of(nested, not_number, st.sampled_from([1000, -1000, "91", "1e400", "Infinity"]))
    if kind == "datetime":
        return st.one_of(nested, not_time, st.integers(), st.booleans())
    if kind == "uuid":
        return st.one_of(
            nested, not_number, st.integers(), st.sampled_from(["123e4567-e89b-12d3-a456", "g" * 32])
        )
    if kind == "bool":
        return st.one_of(nested, not_bool)
    if kind in ("choice", "division"):
        return st.one_of(
            nested,
            not_choice,
            nul_text,
            st.sampled_from(["999999999999", "46", "4601"]) if kind == "division" else not_choice,
        )
    if kind == "array":
        return st.one_of(
            st.integers(),
            st.text(min_size=1, max_size=5),
            st.dictionaries(st.text(max_size=3), scalar, min_size=1, max_size=2),
            st.lists(nested | not_number, min_size=1, max_size=3),
        )
    if kind == "object":
        return st.one_of(st.integers(), st.text(max_size=5), st.lists(scalar, max_size=3), st.booleans())
    raise AssertionError(kind)


def kind_of(prop: dict) -> tuple[str, bool]:
    """The kind of a schema property and whether it has a length limit."""
    if "oneOf" in prop or "enum" in prop:
        return "choice", True
    t = prop.get("type")
    if t == "integer":
        return "int", True
    if t == "number":
        return "decimal", True
    if t == "boolean":
        return "bool", True
    if t == "array":
        return "array", True
    if t == "object":
        return "object", True
    fmt = prop.get("format")
    if fmt == "date-time":
        return "datetime", True
    if fmt == "uuid":
        return "uuid", True
    return "text", bool(prop.get("maxLength") or prop.get("pattern"))


# Field-work endpoints take free-form objects (schema: additionalProperties); their fields, from the
# services' documented contract (tasks/api/fieldwork.py).
FW_COMMON = {"version": "version", "idempotency_key": "uuid"}
FW_FIELDS = {
    "v1_tasks_attempts_create": {
        "method": "choice",
        "reached": "bool",
        "attempted_at": "datetime",
        "note": "text",
    },
    "v1_tasks_radius_create": {
        "division_code": "division",
        "address": "text",
        "latitude": "decimal",
        "longitude": "decimal",
        "location_accuracy_m": "int",
        "measure": "choice",
        "quarantine_site": "text",
        "controlled_at": "datetime",
        "note": "text",
    },
    "v1_tasks_trajectory_create": {
        "started_at": "datetime",
        "ended_at": "datetime",
        "place_name": "text",
        "address": "text",
        "division_code": "division",
        "latitude": "decimal",
        "longitude": "decimal",
        "activity": "text",
        "transport": "choice",
        "vehicle_number": "text",
        "seat": "text",
        "companions": "text",
    },
    "v1_tasks_contacts_create": {
        "name": "text",
        "id_type": "choice",
        "id_number": "text",
        "phone": "text",
        "relation": "choice",
        "last_contact_at": "datetime",
        "last_contact_place": "text",
        "division_code": "division",
        "address": "text",
    },
    "v1_tasks_tests_create": {
        "sampled_at": "datetime",
        "test_type": "choice",
        "result": "choice",
        "lab": "text",
        "note": "text",
    },
    "v1_tasks_trajectory_traced_create": {},
    "v1_tasks_submit_create": {"no_close_contacts": "bool", "note": "text"},
    "v1_tasks_trajectory_destroy": {"revision": "version"},
}
NO_IDEMPOTENCY_KEY = {"v1_tasks_trajectory_destroy", "v1_tasks_trajectory_traced_create"}  # they ignore one
FW_FIELDS["v1_tasks_trajectory_entry_update"] = {
    **FW_FIELDS["v1_tasks_trajectory_create"],
    "revision": "version",
}
FW_FIELDS["v1_tasks_trajectory_entry_partial_update"] = FW_FIELDS["v1_tasks_trajectory_entry_update"]
# Fields the DRF serializer accepts with numbers as values (optional integers, free-text reasons…)
# are typed by the schema; nothing else is declared here.


def known_fields(op: dict) -> dict[str, tuple[str, bool]]:
    if op["id"] in FW_FIELDS:
        common = dict(FW_COMMON)
        if op["id"] in NO_IDEMPOTENCY_KEY:
            common.pop("idempotency_key")
        return {name: (kind, True) for name, kind in {**common, **FW_FIELDS[op["id"]]}.items()}
    return {name: kind_of(prop) for name, prop in op["fields"].items()}


def corrupted(base: dict, fields: dict[str, tuple[str, bool]]) -> st.SearchStrategy:
    """`base` with at least one known field replaced by a wrong value (and maybe more)."""
    if not fields:
        return st.nothing()
    names = sorted(fields)
    return st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)), unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {n: bad_value(*fields[n][:1], limited=fields[n][1]) for n in chosen}
        ).map(lambda bad: {**base, **bad})
    )


not_an_object = st.one_of(
    st.lists(scalar, max_size=4),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.none(),
    st.booleans(),
    st.just(HUGE),
    st.lists(st.dictionaries(st.text(max_size=5), scalar, max_size=2), max_size=2),
)
not_a_list = st.one_of(
    st.dictionaries(st.text(max_size=8), scalar, max_size=3),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.none(),
    st.booleans(),
    st.just(HUGE),
)
unknown_only = st.dictionaries(
    st.text(min_size=1, max_size=10).map(lambda s: f"zz_{s}"), scalar | nested, min_size=1, max_size=3
)
not_json = st.one_of(
    st.sampled_from(
        [
            b"{",
            b"{'a': 1}",
            b"[1, 2",
            b"NaN",
            b"Infinity",
            b'{"a": NaN}',
            b"\xff\xfe\x00",
            b"<xml/>",
            b"undefined",
            b'{"a":1}}',
        ]
    ),
    st.binary(min_size=1, max_size=40).filter(lambda b: not _is_json(b)),
)
lead_rows = st.lists(
    st.fixed_dictionaries(
        {"source": st.sampled_from(["red_code", "manual"])},
        optional={
            "name": nul_text | nested,
            "id_number": nul_text | nested | st.just(HUGE),
            "phone": nul_text | nested,
            "division_code": nul_text | nested,
            "reported_at": not_time | nested,
            "external_id": nul_text | nested,
        },
    ).filter(lambda r: len(r) > 1),
    min_size=1,
    max_size=3,
)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


@dataclass
class Body:
    kind: str  # "json" or "raw"
    value: object = None


# The batch APIs that answer a list of rows row by row (accepted / duplicates / rejected).
ROW_APIS = {"v1_leads_create", "v1_test_results_create"}


def bodies(op: dict, base: dict, *, bodyless: bool) -> st.SearchStrategy:
    raw = not_json.map(lambda b: Body("raw", b))
    if op["id"] in ROW_APIS:
        return st.one_of(
            not_a_list.map(lambda v: Body("json", v)), raw, lead_rows.map(lambda v: Body("rows", v))
        )
    options = [not_an_object.map(lambda v: Body("json", v)), unknown_only.map(lambda v: Body("json", v)), raw]
    if bodyless:
        options.append(st.just(Body("json", {})))
    fields = known_fields(op)
    if fields:
        options.append(corrupted(base, fields).map(lambda v: Body("json", v)))
    return st.one_of(*options)


# ---- the objects each operation works on -------------------------------------------------------------


class World:
    """Real objects in the home county, created on first use."""

    def __init__(self, users: dict):
        self.u = users

    @cached_property
    def task(self):
        """Dispatched to bob's village (bob is a member of its sub-unit)."""
        from tests.fieldwork_helpers import dispatched_task

        return dispatched_task(self.u["field_staff"])

    @cached_property
    def received_task(self):
        from tasks import workflow
        from tests.fieldwork_helpers import dispatched_task

        task = dispatched_task(self.u["field_staff"])
        return workflow.task_receive(task=task, actor=self.u["field_staff"])

    @cached_property
    def entry(self):
        from tasks.models import TrajectoryEntry
        from tests.review_fixtures import record

        start = timezone.now() - timedelta(hours=5)
        return record(
            TrajectoryEntry,
            self.task,
            self.u["field_staff"],
            started_at=start,
            ended_at=start + timedelta(hours=1),
            place_name="家",
        )

    def _review(self):
        from tests.review_fixtures import clean_fieldwork, submit, traced_task

        reported_at = timezone.now() - timedelta(days=1)
        task = traced_task(reported_at=reported_at)
        clean_fieldwork(task, self.u["field_staff"], reported_at)
        return submit(task, self.u["field_staff"])

    @cached_property
    def review(self):
        """Claimed by the expert erin."""
        from reviews.services import review_claim

        review = self._review()
        review_claim(review=review, actor=self.u["cdc_expert"])
        review.refresh_from_db()
        return review

    @cached_property
    def review_held_by_other(self):
        from reviews.services import review_claim
        from tasks.models import Role
        from tests.factories import UserFactory

        other = UserFactory(username="emma", full_name="专家庚", role=Role.CDC_EXPERT, division_id="460105")
        review = self._review()
        review_claim(review=review, actor=other)
        review.refresh_from_db()
        return review

    @cached_property
    def lead_expert(self):
        from django.contrib.auth.models import Permission

        from tasks.models import Role
        from tests.factories import UserFactory

        user = UserFactory(username="leo", full_name="首席专家", role=Role.CDC_EXPERT, division_id="460105")
        user.user_permissions.add(
            Permission.objects.get(codename="assign_review", content_type__app_label="reviews")
        )
        return user

    @cached_property
    def notice(self):
        from tests.notice_fixtures import notice_in_review

        return notice_in_review()

    @cached_property
    def notice_done(self):
        """A notice the county desk already passed on: approving it again at county level is refused."""
        from notices.services.review import notice_approve

        notice = self.notice
        return notice_approve(notice=notice, actor=self.u["duty_officer"])

    @cached_property
    def period(self):
        """A running monitoring period of bob's village, today inside it."""
        from tests.monitoring_fixtures import make_period

        today = timezone.localdate()
        return make_period(starts_on=today - timedelta(days=1), now=timezone.now() - timedelta(days=1))

    @cached_property
    def desk(self):
        from tasks.models import Unit

        return Unit.objects.get(kind="duty_desk", division_id="460105")

    @cached_property
    def shift(self):
        """alice's shift at the county desk, from tomorrow: too early to hand over (any body refused)."""
        from tasks.models import DutyShift

        start = timezone.now() + timedelta(days=1)
        return DutyShift.objects.create(
            unit=self.desk, user=self.u["duty_officer"], starts_at=start, ends_at=start + timedelta(hours=8)
        )

    @cached_property
    def other_county_shift(self):
        """A shift of another county's desk: outside alice's territory (404 for any body)."""
        from tasks.models import DutyShift, Unit
        from tests.factories import UserFactory

        desk = Unit.objects.get(kind="duty_desk", division_id=OTHER_COUNTY)
        officer = UserFactory(username="otto", role="duty_officer", division_id=OTHER_COUNTY)
        start = timezone.now() + timedelta(days=2)
        return DutyShift.objects.create(
            unit=desk, user=officer, starts_at=start, ends_at=start + timedelta(hours=8)
        )

    @cached_property
    def order(self):
        """A supervision order owned by the home township's team, issued by a city commander."""
        from tests.order_fixtures import make_order

        return make_order()


def _shift_body(w, days: int = 3) -> dict:
    start = timezone.now() + timedelta(days=days)
    return {
        "unit": w.desk.pk,
        "user": w.u["duty_officer"].pk,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=8)).isoformat(),
    }


@dataclass
class Scenario:
    user: Callable[[World], object]
    kwargs: Callable[[World], dict] = field(default=lambda w: {"task_id": w.task.pk})
    base: Callable[[World], dict] = field(default=lambda w: {})
    bodyless: bool = False  # the operation needs no body: it is sent to an object in the wrong state


def _fw(base: Callable[[World], dict], **extra) -> Scenario:
    return Scenario(
        user=lambda w: w.u["field_staff"], base=lambda w: {"version": w.task.version, **base(w)}, **extra
    )


def _h():
    from tests import fieldwork_helpers as h

    return h


def _entry_kwargs(w):
    return {"task_id": w.task.pk, "entry_id": w.entry.pk}


DUTY = lambda w: w.u["duty_officer"]  # noqa: E731
EXPERT = lambda w: w.u["cdc_expert"]  # noqa: E731

SCENARIOS: dict[str, Scenario] = {
    "v1_auth_token_create": Scenario(
        user=lambda w: None,
        kwargs=lambda w: {},
        base=lambda w: {"username": "alice", "password": "wrong-password-1"},
    ),
    # Anonymous: every call is refused, whatever the body.
    "v1_auth_logout_create": Scenario(user=lambda w: None, kwargs=lambda w: {}, bodyless=True),
    "v1_leads_create": Scenario(user=DUTY, kwargs=lambda w: {}),
    "v1_notices_approve_create": Scenario(
        user=DUTY, kwargs=lambda w: {"id": w.notice_done.pk}, bodyless=True
    ),
    "v1_notices_reject_create": Scenario(
        user=DUTY, kwargs=lambda w: {"id": w.notice.pk}, base=lambda w: {"reason": "号码有误"}
    ),
    "v1_notifications_read_create": Scenario(user=DUTY, kwargs=lambda w: {}, base=lambda w: {"all": True}),
    "v1_reviews_approve_create": Scenario(
        user=EXPERT,
        kwargs=lambda w: {"id": w.review.pk},
        base=lambda w: {
            "reasons": "",
            "disposal": {
                "measure": "home_quarantine",
                "measure_days": 14,
                "test_schedule_days": [1, 4, 7],
                "notify_person": True,
                "note": "",
                "risk_areas": [],
            },
        },
    ),
    "v1_reviews_assign_create": Scenario(
        user=lambda w: w.lead_expert,
        kwargs=lambda w: {"id": w.review.pk},
        base=lambda w: {"expert": w.u["cdc_expert"].pk},
    ),
    "v1_reviews_claim_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.review_held_by_other.pk}, bodyless=True
    ),
    "v1_reviews_comments_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.review.pk}, base=lambda w: {"body": "请补充"}
    ),
    "v1_reviews_return_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.review.pk}, base=lambda w: {"reasons": "轨迹不全"}
    ),
    "v1_tasks_assign_create": Scenario(
        user=DUTY, base=lambda w: {"assignee": w.u["field_staff"].pk, "reason": ""}
    ),
    "v1_tasks_bulk_assign_create": Scenario(
        user=DUTY,
        kwargs=lambda w: {},
        base=lambda w: {"task_ids": [w.task.pk], "assignee": w.u["field_staff"].pk},
    ),
    "v1_tasks_receive_create": Scenario(
        user=lambda w: w.u["field_staff"], kwargs=lambda w: {"task_id": w.received_task.pk}, bodyless=True
    ),
    "v1_tasks_resolve_create": Scenario(user=DUTY, base=lambda w: {"division_code": HOME_VILLAGE}),
    "v1_tasks_reveal_create": Scenario(
        user=DUTY, base=lambda w: {"reason": "核对身份", "fields": ["id_number"]}
    ),
    "v1_tasks_transfer_create": Scenario(
        user=DUTY, base=lambda w: {"division_code": OTHER_COUNTY, "reason": "已离开本区"}
    ),
    "v1_tasks_transfer_accept_create": Scenario(user=DUTY, bodyless=True),  # no transfer is pending
    "v1_tasks_transfer_reject_create": Scenario(user=DUTY, base=lambda w: {"reason": "不属实"}),
    # Work types and the end of a task (docs/worktypes.md).
    "v1_tasks_kind_create": Scenario(user=DUTY, base=lambda w: {"kind": "verification", "reason": "降级"}),
    "v1_tasks_close_create": Scenario(user=DUTY, base=lambda w: {"outcome": "released", "note": ""}),
    "v1_tasks_cancel_create": Scenario(user=DUTY, base=lambda w: {"reason": "重复"}),
    "v1_tasks_reopen_create": Scenario(user=DUTY, base=lambda w: {"reason": "又有线索"}),
    "v1_tasks_merge_create": Scenario(
        user=DUTY,
        kwargs=lambda w: {},
        base=lambda w: {"keep": w.task.pk, "merge": w.task.pk, "reason": "同一人"},
    ),
    "v1_tasks_bulk_close_create": Scenario(
        user=DUTY, kwargs=lambda w: {}, base=lambda w: {"task_ids": [w.task.pk], "outcome": "false_hit"}
    ),
    "v1_tasks_verification_create": Scenario(
        user=lambda w: w.u["field_staff"], base=lambda w: {"found": "here", "risk": False, "note": ""}
    ),
    "v1_tasks_attempts_create": _fw(lambda w: _h().attempt()),
    "v1_tasks_radius_create": _fw(lambda w: _h().radius()),
    "v1_tasks_trajectory_create": _fw(lambda w: _h().entry()),
    "v1_tasks_contacts_create": _fw(lambda w: _h().contact()),
    "v1_tasks_tests_create": _fw(lambda w: _h().test_result()),
    "v1_tasks_trajectory_traced_create": _fw(lambda w: {}),
    "v1_tasks_submit_create": _fw(
        lambda w: {"idempotency_key": str(uuid.uuid4()), "no_close_contacts": True}
    ),
    "v1_tasks_trajectory_entry_update": _fw(
        lambda w: {**_h().entry(), "revision": w.entry.revision}, kwargs=_entry_kwargs
    ),
    "v1_tasks_trajectory_entry_partial_update": _fw(
        lambda w: {"place_name": "超市", "revision": w.entry.revision}, kwargs=_entry_kwargs
    ),
    "v1_tasks_trajectory_destroy": _fw(lambda w: {"revision": w.entry.revision}, kwargs=_entry_kwargs),
    # Monitoring (docs/monitoring.md): a check-in of bob's village; a release before the last day.
    "v1_monitoring_checkins_create": Scenario(
        user=lambda w: w.u["field_staff"],
        kwargs=lambda w: {"id": w.period.pk},
        base=lambda w: {
            "temperature": "36.5",
            "symptoms": [],
            "note": "",
            "idempotency_key": str(uuid.uuid4()),
        },
    ),
    "v1_monitoring_release_create": Scenario(
        user=lambda w: w.u["field_staff"], kwargs=lambda w: {"id": w.period.pk}, bodyless=True
    ),
    # Lab results: lists of malformed rows are answered row by row, like the lead API.
    "v1_test_results_create": Scenario(user=DUTY, kwargs=lambda w: {}),
    # Registration: bob's task is an investigation, so every registration of it is refused (409 / 400).
    "v1_tasks_registration_create": _fw(
        lambda w: {
            "idempotency_key": str(uuid.uuid4()),
            "arrived_at": timezone.now().isoformat(),
            "arrived_from": "广州",
            "division_code": HOME_VILLAGE,
            "address": "海秀路1号",
            "health_state": "no_symptoms",
            "phone_confirmed": True,
            "note": "",
        }
    ),
    # Likely duplicates: no pair of that id in alice's territory (404); the scan is for duty officers.
    "v1_persons_duplicates_dismiss_create": Scenario(
        user=DUTY, kwargs=lambda w: {"id": 987654321}, bodyless=True
    ),
    "v1_persons_duplicates_merge_create": Scenario(
        user=DUTY, kwargs=lambda w: {"id": 987654321}, base=lambda w: {"keep": 1, "reason": "同一人"}
    ),
    "v1_persons_duplicates_scan_create": Scenario(
        user=lambda w: w.u["field_staff"], kwargs=lambda w: {}, bodyless=True
    ),
    # The roster: a new shift and a whole replacement are validated field by field; a partial change,
    # a deletion and a handover go to objects where any body is refused (another county's shift; a
    # shift that starts tomorrow, too early to hand over); a swap needs two shifts of alice's desk.
    "v1_shifts_create": Scenario(user=DUTY, kwargs=lambda w: {}, base=lambda w: _shift_body(w)),
    "v1_shifts_update": Scenario(
        user=DUTY, kwargs=lambda w: {"id": w.shift.pk}, base=lambda w: _shift_body(w, days=4)
    ),
    "v1_shifts_partial_update": Scenario(
        user=DUTY, kwargs=lambda w: {"id": w.other_county_shift.pk}, bodyless=True
    ),
    "v1_shifts_destroy": Scenario(user=DUTY, kwargs=lambda w: {"id": w.other_county_shift.pk}, bodyless=True),
    "v1_shifts_handover_create": Scenario(user=DUTY, kwargs=lambda w: {"id": w.shift.pk}, bodyless=True),
    "v1_shifts_swap_create": Scenario(
        user=DUTY,
        kwargs=lambda w: {},
        base=lambda w: {"first": w.shift.pk, "second": w.other_county_shift.pk, "reason": "换班"},
    ),
    "v1_handovers_acknowledge_create": Scenario(user=DUTY, kwargs=lambda w: {"id": 987654321}, bodyless=True),
    # Supervision orders: a new order is validated field by field; the owner's actions are sent by an
    # account that may not act on the order (the CDC expert: refused whatever the body).
    "v1_supervision_orders_create": Scenario(
        user=DUTY,
        kwargs=lambda w: {},
        base=lambda w: {
            "title": "核查",
            "text": "今日完成",
            "deadline": (timezone.now() + timedelta(hours=6)).isoformat(),
            "priority": "normal",
            "owner_unit": w.order.owner_unit_id,
        },
    ),
    **{
        f"v1_supervision_orders_{action}_create": Scenario(
            user=EXPERT, kwargs=lambda w: {"id": w.order.pk}, bodyless=True
        )
        for action in ("accept", "acknowledge")
    },
    "v1_supervision_orders_complete_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.order.pk}, base=lambda w: {"text": "已完成"}
    ),
    "v1_supervision_orders_reply_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.order.pk}, base=lambda w: {"text": "进展"}
    ),
    "v1_supervision_orders_send_back_create": Scenario(
        user=EXPERT, kwargs=lambda w: {"id": w.order.pk}, base=lambda w: {"reason": "不完整"}
    ),
}
DEFAULT = Scenario(user=DUTY)


# ---- the database fingerprint ------------------------------------------------------------------------


def watched_tables() -> list[str]:
    names = connection.introspection.table_names()
    return sorted(
        n
        for n in names
        if n.startswith(WATCHED_PREFIXES)
        and n not in UNWATCHED
        and not any(f in n for f in UNWATCHED_FRAGMENTS)
    )


def fingerprint(tables: list[str]) -> dict[str, tuple[int, int]]:
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM {connection.ops.quote_name(t)} x"
        for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {name: (count, digest) for name, count, digest in cursor.fetchall()}


def _url(path: str, kwargs: dict) -> str:
    for name, value in kwargs.items():
        path = path.replace(f"{{{name}}}", str(value))
    assert "{" not in path, f"unfilled path parameter in {path}"
    return path


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{o['method'].upper()} {o['path']}" for o in OPERATIONS])
def test_malformed_input_gets_4xx_and_changes_nothing(
    op, api_client, duty_officer, field_staff, team_leader, cdc_expert, commander
):
    users = {
        "duty_officer": duty_officer,
        "field_staff": field_staff,
        "team_leader": team_leader,
        "cdc_expert": cdc_expert,
        "commander": commander,
    }
    world = World(users)
    scenario = SCENARIOS.get(op["id"], DEFAULT)
    user = scenario.user(world)
    url = _url(op["path"], scenario.kwargs(world))
    base = scenario.base(world)
    if user is not None:
        api_client.force_authenticate(user)
    tables = watched_tables()
    assert "tasks_tracingtask" in tables and "reviews_review" in tables and "reports_reportversion" in tables
    send = getattr(api_client, op["method"])

    @FUZZ
    @given(body=bodies(op, base, bodyless=scenario.bodyless))
    def run(body: Body):
        before = fingerprint(tables)
        if body.kind == "raw":
            response = send(url, data=body.value, content_type="application/json")
        else:
            response = send(url, data=json.dumps(body.value), content_type="application/json")
        shown = repr(body.value)[:300]
        note(
            f"{op['method'].upper()} {url} {body.kind} {shown} -> {response.status_code} {response.content[:300]!r}"
        )
        assert response.status_code < 500, (response.status_code, shown, response.content[:500])
        after = fingerprint(tables)
        changed = sorted(t for t in tables if before.get(t) != after.get(t))
        if body.kind == "rows":  # the intake records rejected rows by design (tasks_leadrejection)
            assert set(changed) <= {"tasks_leadrejection"}, (changed, shown)
            assert response.status_code in (200, 400), (response.status_code, response.content[:300])
            return
        assert 400 <= response.status_code < 500, (response.status_code, shown, response.content[:500])
        assert not changed, (changed, response.status_code, shown)

    run()


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{o['method'].upper()} {o['path']}" for o in OPERATIONS])
def test_a_nul_character_in_any_text_field_gets_400(
    op, api_client, duty_officer, field_staff, team_leader, cdc_expert, commander
):
    """Deterministic companion of the fuzz test: PostgreSQL cannot store U+0000 in text or jsonb, so a
    NUL in any text field of an otherwise valid body must be refused with a 400 naming the field (not
    reach the database and fail there with a 500)."""
    users = {
        "duty_officer": duty_officer,
        "field_staff": field_staff,
        "team_leader": team_leader,
        "cdc_expert": cdc_expert,
        "commander": commander,
    }
    world = World(users)
    scenario = SCENARIOS.get(op["id"], DEFAULT)
    if scenario.bodyless:
        pytest.skip("takes no body")
    user = scenario.user(world)
    url = _url(op["path"], scenario.kwargs(world))
    if user is not None:
        api_client.force_authenticate(user)
    tables = watched_tables()
    send = getattr(api_client, op["method"])
    if op["id"] == "v1_leads_create":
        cases = [
            (
                "name",
                [
                    {
                        "source": "red_code",
                        "name": "张\x00三",
                        "id_number": "11010519491231002X",
                        "division_code": HOME_VILLAGE,
                        "reported_at": timezone.now().isoformat(),
                    }
                ],
            )
        ]
    else:
        text_fields = [n for n, (kind, _limited) in known_fields(op).items() if kind == "text"]
        cases = [(name, {**scenario.base(world), name: "a\x00b"}) for name in text_fields]
    for name, body in cases:
        before = fingerprint(tables)
        response = send(url, data=json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (name, response.status_code)
        if op["id"] == "v1_leads_create":
            assert response.status_code == 200 and response.json()["accepted"] == 0, response.content[:300]
            assert name in json.dumps(response.json()["rejected"]), response.content[:300]
            continue
        assert 400 <= response.status_code < 500, (name, response.status_code, response.content[:300])
        assert fingerprint(tables) == before, name
