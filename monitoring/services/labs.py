"""The lab results feed: validation, storage, matching and the effects of a result (docs/labs.md).

One path for the API (`POST /api/v1/test-results/`), the file import (`import_test_results`) and the
duty officer's queue:

1. `LabResultValidator.validate` checks every row in Python (errors name the field), computes the keyed
   hashes of the identity (tasks/validation.py: the same hashes and person keys as the intake) and
   encrypts the ID number and phone;
2. `store_results` writes the valid rows with COPY into a staging table and one
   `INSERT … SELECT … ON CONFLICT (lab, sample_id) DO NOTHING` (a resend, or a repeat within the list,
   is a duplicate) that matches them on the way in, joined to persons by person key: the ID's key first
   ("id:" + ID hash), else phone + name ("pn:" + hash). A match attaches the person's active task and
   open monitoring period, and puts the result in their territory;
3. `apply_effects` runs on the newly matched results, in sets: a non-pending result closes the sample
   the period was due; a positive one sets the person's case status (history in CaseStatusChange),
   records a "positive" alert once per period and day, alerts the duty desk and the county's CDC
   experts at once, and opens or escalates a P1 investigation (services/escalation.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks import validation as v
from tasks.crypto import keyring
from tasks.models import ACTIVE_STATUSES, CaseStatus, TestResult

from ..models import LabResultValue, MatchState
from ..models.periods import OPEN_STATES
from .alerts import notify_desk_and_experts
from .escalation import open_or_escalate_investigation

MAX_API_ROWS = 10_000
DEFAULT_CHUNK = 10_000
LAB_FIELDS = (
    "lab",
    "sample_id",
    "sampled_at",
    "test_type",
    "result",
    "id_type",
    "id_number",
    "phone",
    "name",
)
_FIELD_SET = frozenset(LAB_FIELDS)
TEST_TYPES = tuple(TestResult.Type.values)
RESULTS = tuple(LabResultValue.values)
# A positive result makes the person a confirmed case unless they already are one (or asymptomatic,
# which a duty officer set on purpose).
POSITIVE_STATUS = CaseStatus.CONFIRMED
_UPGRADABLE = [CaseStatus.NONE, CaseStatus.SUSPECTED, CaseStatus.EXCLUDED]


@dataclass(slots=True)
class CleanResult:
    index: int
    lab: str
    sample_id: str
    sampled_at: datetime
    test_type: str
    result: str
    id_number: str
    id_number_hash: str
    phone: str
    phone_hash: str
    name: str
    phone_name_key: str


@dataclass(slots=True)
class RowRejection:
    index: int
    lab: str
    sample_id: str
    errors: dict[str, list[str]]

    def as_response(self) -> dict:
        return {
            "index": self.index,
            "lab": self.lab or None,
            "sample_id": self.sample_id or None,
            "errors": self.errors,
        }


@dataclass
class LabIngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RowRejection] = field(default_factory=list)
    matched: int = 0
    positives: int = 0

    def add(self, other: LabIngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.matched += other.matched
        self.positives += other.positives

    def as_response(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_response() for r in self.rejected],
        }


def _fail(errors: dict[str, list[str]], name: str, reason: Any) -> None:
    errors.setdefault(name, []).append(str(reason))


def _text(row: dict, name: str, errors: dict[str, list[str]], limit: int | None = None) -> str:
    raw = row.get(name)
    if raw is None:
        return ""
    if isinstance(raw, (dict, list, bool)):
        _fail(errors, name, _("must be text"))
        return ""
    value = str(raw).strip()
    if "\x00" in value or v._has_surrogate(value):
        _fail(errors, name, _("must not contain NUL characters or lone surrogates"))
        return ""
    if limit is not None and len(value) > limit:
        _fail(errors, name, _("at most %(n)d characters, got %(got)d") % {"n": limit, "got": len(value)})
        return ""
    return value


@dataclass
class LabResultValidator:
    """Validates rows of the lab feed; `default_lab` fills an empty `lab` (the import's --lab)."""

    default_lab: str = ""
    now: datetime = field(default_factory=timezone.now)

    def validate(
        self, rows: list[Any], *, start_index: int = 0
    ) -> tuple[list[CleanResult], list[RowRejection]]:
        today = timezone.localtime(self.now).date()
        tz = timezone.get_current_timezone()
        hasher = v._hasher()
        encrypt = keyring().encrypt
        clean: list[CleanResult] = []
        rejected: list[RowRejection] = []
        for offset, row in enumerate(rows):
            index = start_index + offset
            errors: dict[str, list[str]] = {}
            if not isinstance(row, dict):
                rejected.append(
                    RowRejection(index, "", "", {"non_field_errors": [_("a result is a JSON object")]})
                )
                continue
            item = self._check(row, errors, today, tz)
            if errors:
                rejected.append(RowRejection(index, item.get("lab", ""), item.get("sample_id", ""), errors))
                continue
            id18, phone, name = item.get("id18", ""), item.get("phone", ""), item.get("name", "")
            id_hash = hasher("id", id18) if id18 else ""
            clean.append(
                CleanResult(
                    index,
                    item["lab"],
                    item["sample_id"],
                    item["sampled_at"],
                    item["test_type"],
                    item["result"],
                    encrypt(item["id_number"]) if item.get("id_number") else "",
                    id_hash,
                    encrypt(phone) if phone else "",
                    hasher("phone", phone) if phone else "",
                    name,
                    v.person_key(phone=phone, name=name, hasher=hasher) if phone and name else "",
                )
            )
        return clean, rejected

    def _check(self, row: dict, errors: dict[str, list[str]], today: date, tz: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in row:
            if key not in _FIELD_SET:
                _fail(
                    errors,
                    str(key),
                    _("unknown field; the fields are %(fields)s") % {"fields": ", ".join(LAB_FIELDS)},
                )
        values["lab"] = lab = _text(row, "lab", errors, 100) or self.default_lab
        if not lab:
            _fail(errors, "lab", _("required: the laboratory that tested the sample"))
        values["sample_id"] = sample_id = _text(row, "sample_id", errors, 100)
        if not sample_id:
            _fail(errors, "sample_id", _("required: the laboratory's id of the sample"))
        raw_sampled = row.get("sampled_at")
        if raw_sampled in (None, ""):
            _fail(errors, "sampled_at", _("required"))
        else:
            try:
                values["sampled_at"] = v.clean_datetime(raw_sampled, self.now, tz)
            except ValueError as exc:
                _fail(errors, "sampled_at", str(exc))
        test_type = _text(row, "test_type", errors)
        if not test_type:
            _fail(errors, "test_type", _("required; one of %(choices)s") % {"choices": ", ".join(TEST_TYPES)})
        elif test_type not in TEST_TYPES:
            _fail(
                errors,
                "test_type",
                _("unknown test type %(value)s; one of %(choices)s")
                % {"value": test_type[:30], "choices": ", ".join(TEST_TYPES)},
            )
        values["test_type"] = test_type
        result = _text(row, "result", errors)
        if not result:
            _fail(errors, "result", _("required; one of %(choices)s") % {"choices": ", ".join(RESULTS)})
        elif result not in RESULTS:
            _fail(
                errors,
                "result",
                _("unknown result %(value)s; one of %(choices)s")
                % {"value": result[:30], "choices": ", ".join(RESULTS)},
            )
        values["result"] = result
        name = _text(row, "name", errors, v.MAX_NAME)
        values["name"] = name = v.clean_name(name) if name else ""
        raw_id = v._check_document(row, values, errors, today)
        raw_phone = _text(row, "phone", errors)
        if raw_phone:
            try:
                values["phone"] = v.clean_phone(raw_phone)
            except ValueError as exc:
                _fail(errors, "phone", str(exc))
        if not raw_id and not (raw_phone and name):
            if raw_phone:
                _fail(errors, "name", _("required with phone: the person is matched on phone and name"))
            else:
                _fail(
                    errors, "id_number", _("required to find the person: give id_number, or phone and name")
                )
        return values


# --- storage and matching --------------------------------------------------------------------------------

_STAGING = """
CREATE TEMP TABLE lab_staging (
    ord integer, lab text, sample_id text, sampled_at timestamptz, test_type text, result text,
    id_number text, id_number_hash text, phone text, phone_hash text, name text, phone_name_key text
) ON COMMIT DROP
"""
_COLUMNS = "ord, lab, sample_id, sampled_at, test_type, result, id_number, id_number_hash, phone, phone_hash, name, phone_name_key"

_ACTIVE = list(ACTIVE_STATUSES)
_OPEN = list(OPEN_STATES)

# Insert the staged results, matched on the way in (each row is written once, already matched): the
# person by person key — the ID's first, else phone + name — with their active task and open period,
# and the territory of the period, else the task, else the sender's. A result already received (same
# lab and sample id) is skipped.
_INSERT_SQL = """
WITH m AS MATERIALIZED (
    -- Index look-ups of the unique person_key, once per row, never a scan of the persons.
    SELECT s.*, coalesce(
        (SELECT pi.id FROM tasks_person pi
         WHERE s.id_number_hash <> '' AND pi.person_key = 'id:' || s.id_number_hash),
        (SELECT pp.id FROM tasks_person pp WHERE s.phone_name_key <> '' AND pp.person_key = s.phone_name_key)
    ) AS person_id
    FROM lab_staging s
)
INSERT INTO monitoring_labresult (lab, sample_id, sampled_at, test_type, result, id_number, id_number_hash,
    phone, phone_hash, name, phone_name_key, person_id, task_id, period_id, division_id, match_state,
    matched_at, received_at, submitted_by_id, rejection_reason)
SELECT m.lab, m.sample_id, m.sampled_at, m.test_type, m.result, m.id_number, m.id_number_hash, m.phone,
    m.phone_hash, m.name, m.phone_name_key, m.person_id, t.id, mp.id,
    coalesce(mp.division_id, t.division_id, %(division)s),
    CASE WHEN m.person_id IS NULL THEN 'unmatched' ELSE 'matched' END,
    CASE WHEN m.person_id IS NOT NULL THEN %(now)s::timestamptz END,
    %(now)s, %(by)s, ''
FROM m
-- One active task and one open period per person: partial unique indexes whose predicates the literal
-- lists match.
LEFT JOIN LATERAL (
    SELECT t.id, t.division_id FROM tasks_tracingtask t
    WHERE m.person_id IS NOT NULL AND t.person_id = m.person_id AND t.status IN {active}
) t ON true
LEFT JOIN LATERAL (
    SELECT mp.id, mp.division_id FROM monitoring_monitoringperiod mp
    WHERE m.person_id IS NOT NULL AND mp.person_id = m.person_id AND mp.state IN {open}
) mp ON true
ORDER BY m.ord
ON CONFLICT (lab, sample_id) DO NOTHING
RETURNING id, person_id IS NOT NULL
""".format(
    active="(" + ", ".join(f"'{status}'" for status in ACTIVE_STATUSES) + ")",
    open="(" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")",
)


def store_results(
    clean: list[CleanResult],
    *,
    submitted_by_id: int | None,
    division_id: str | None,
    now: datetime | None = None,
) -> tuple[int, int, int]:
    """Insert, match and apply the effects of validated results, in the caller's transaction. Returns
    (accepted, matched, positives among the matched)."""
    if not clean:
        return 0, 0, 0
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lab_staging")
        cursor.execute(_STAGING)
        with cursor.copy(f"COPY lab_staging ({_COLUMNS}) FROM STDIN") as copy:
            for r in clean:
                copy.write_row(
                    (
                        r.index,
                        r.lab,
                        r.sample_id,
                        r.sampled_at,
                        r.test_type,
                        r.result,
                        r.id_number,
                        r.id_number_hash,
                        r.phone,
                        r.phone_hash,
                        r.name,
                        r.phone_name_key,
                    )
                )
        cursor.execute("ANALYZE lab_staging")
        cursor.execute(
            _INSERT_SQL,
            {"division": division_id, "now": now, "by": submitted_by_id, "active": _ACTIVE, "open": _OPEN},
        )
        inserted = cursor.fetchall()
        cursor.execute("DROP TABLE lab_staging")
    matched_ids = [result_id for result_id, matched in inserted if matched]
    positives = apply_effects(lab_result_ids=matched_ids, now=now, fallback_division=division_id)
    return len(inserted), len(matched_ids), positives


def ingest_rows(
    rows: list[Any],
    *,
    submitted_by_id: int | None,
    division_id: str | None,
    default_lab: str = "",
    start_index: int = 0,
    now: datetime | None = None,
    validator: LabResultValidator | None = None,
    line_numbers: list[int] | None = None,
) -> LabIngestResult:
    """Validate and store one chunk of rows in one transaction (see the module docstring)."""
    now = now or timezone.now()
    validator = validator or LabResultValidator(default_lab=default_lab, now=now)
    clean, rejected = validator.validate(rows, start_index=start_index)
    if line_numbers is not None:
        for item in clean:
            item.index = line_numbers[item.index - start_index]
        for rejection in rejected:
            rejection.index = line_numbers[rejection.index - start_index]
    with transaction.atomic():
        accepted, matched, positives = store_results(
            clean, submitted_by_id=submitted_by_id, division_id=division_id, now=now
        )
    return LabIngestResult(
        accepted=accepted,
        duplicates=len(clean) - accepted,
        rejected=rejected,
        matched=matched,
        positives=positives,
    )


# --- the queue: match by hand, reject --------------------------------------------------------------------


@transaction.atomic
def match_result(*, result_id: int, person_id: int, by: Any, now: datetime | None = None) -> bool:
    """A duty officer matches an unmatched result to a person; False when it was no longer unmatched."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_labresult r SET
                person_id = %(person)s,
                task_id = (SELECT t.id FROM tasks_tracingtask t WHERE t.person_id = %(person)s AND t.status = ANY(%(active)s)),
                period_id = (SELECT mp.id FROM monitoring_monitoringperiod mp WHERE mp.person_id = %(person)s AND mp.state = ANY(%(open)s)),
                match_state = 'matched', matched_at = %(now)s, matched_by_id = %(by)s
            WHERE r.id = %(id)s AND r.match_state = 'unmatched'
            RETURNING r.division_id
            """,
            {"person": person_id, "id": result_id, "now": now, "by": by.pk, "active": _ACTIVE, "open": _OPEN},
        )
        row = cursor.fetchone()
        if row is None:
            return False
        lab_division = row[0]
        cursor.execute(
            """
            UPDATE monitoring_labresult r SET division_id = coalesce(
                (SELECT mp.division_id FROM monitoring_monitoringperiod mp WHERE mp.id = r.period_id),
                (SELECT t.division_id FROM tasks_tracingtask t WHERE t.id = r.task_id),
                r.division_id)
            WHERE r.id = %(id)s
            """,
            {"id": result_id},
        )
    apply_effects(lab_result_ids=[result_id], now=now, fallback_division=lab_division, by_id=by.pk)
    return True


@transaction.atomic
def reject_result(*, result_id: int, reason: str, by: Any, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    from ..models import LabResult

    return bool(
        LabResult.objects.filter(pk=result_id, match_state=MatchState.UNMATCHED).update(
            match_state=MatchState.REJECTED, rejection_reason=reason, matched_at=now, matched_by=by
        )
    )


# --- effects ---------------------------------------------------------------------------------------------

_EFFECT_TABLE = """
CREATE TEMP TABLE lab_effect (
    result_id bigint, test_id bigint, person_id bigint, period_id bigint, task_id bigint, division_id text,
    result text, sampled_at timestamptz, lab text, sample_id text
) ON COMMIT DROP
"""


def apply_effects(
    *,
    lab_result_ids: list[int] | None = None,
    test_result_ids: list[int] | None = None,
    now: datetime,
    fallback_division: str | None = None,
    by_id: int | None = None,
) -> int:
    """The effects of matched lab results and of results typed into tasks (see the module docstring),
    in sets. Returns the number of positive results among them."""
    if not lab_result_ids and not test_result_ids:
        return 0
    tz = settings.TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lab_effect")
        cursor.execute(_EFFECT_TABLE)
        if lab_result_ids:
            cursor.execute(
                """
                INSERT INTO lab_effect
                SELECT r.id, NULL, r.person_id, r.period_id, r.task_id, r.division_id, r.result, r.sampled_at,
                       r.lab, r.sample_id
                FROM monitoring_labresult r WHERE r.id = ANY(%(ids)s) AND r.person_id IS NOT NULL
                """,
                {"ids": list(lab_result_ids)},
            )
        if test_result_ids:
            cursor.execute(
                """
                INSERT INTO lab_effect
                SELECT NULL, tr.id, t.person_id, mp.id, t.id, coalesce(mp.division_id, t.division_id), tr.result,
                       tr.sampled_at, tr.lab, ''
                FROM tasks_testresult tr
                JOIN tasks_tracingtask t ON t.id = tr.task_id
                LEFT JOIN monitoring_monitoringperiod mp ON mp.person_id = t.person_id AND mp.state = ANY(%(open)s)
                WHERE tr.id = ANY(%(ids)s)
                """,
                {"ids": list(test_result_ids), "open": _OPEN},
            )
        # A non-pending result closes the latest sample the period was due by the day it was taken.
        cursor.execute(
            """
            WITH r AS (
                SELECT DISTINCT ON (period_id) period_id, result, (sampled_at AT TIME ZONE %(tz)s)::date AS day
                FROM lab_effect WHERE period_id IS NOT NULL AND result <> 'pending'
                ORDER BY period_id, sampled_at DESC
            ),
            s AS (
                SELECT DISTINCT ON (s.period_id) s.id, r.result
                FROM monitoring_sampledue s JOIN r ON r.period_id = s.period_id
                WHERE s.state = 'due' AND s.due_on <= r.day
                ORDER BY s.period_id, s.due_on DESC
            )
            UPDATE monitoring_sampledue d SET state = 'done', result = s.result, done_at = %(now)s
            FROM s WHERE d.id = s.id
            """,
            {"tz": tz, "now": now},
        )
        cursor.execute(
            """
            SELECT DISTINCT ON (person_id) person_id, period_id, task_id, division_id, result_id, test_id, lab, sample_id
            FROM lab_effect WHERE result = 'positive'
            ORDER BY person_id, sampled_at DESC
            """
        )
        positives = cursor.fetchall()
        if not positives:
            cursor.execute("DROP TABLE lab_effect")
            return 0
        cursor.execute("SELECT count(*) FROM lab_effect WHERE result = 'positive'")
        positive_count = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH pos AS (
                SELECT DISTINCT ON (person_id) person_id, result_id, test_id
                FROM lab_effect WHERE result = 'positive' ORDER BY person_id, sampled_at DESC
            ),
            old AS MATERIALIZED (
                SELECT p.id, p.case_status FROM tasks_person p JOIN pos ON pos.person_id = p.id
                WHERE p.case_status = ANY(%(upgradable)s)
                ORDER BY p.id FOR UPDATE OF p
            ),
            upd AS (
                UPDATE tasks_person p SET case_status = %(status)s FROM old WHERE p.id = old.id RETURNING p.id
            )
            INSERT INTO monitoring_casestatuschange (person_id, from_status, to_status, reason, source_result_id,
                source_test_id, by_id, at)
            SELECT old.id, old.case_status, %(status)s, %(reason)s, pos.result_id, pos.test_id, %(by)s, %(now)s
            FROM old JOIN upd ON upd.id = old.id JOIN pos ON pos.person_id = old.id
            ORDER BY old.id
            """,
            {
                "upgradable": _UPGRADABLE,
                "status": POSITIVE_STATUS,
                "reason": _("Positive test result"),
                "by": by_id,
                "now": now,
            },
        )
        # One "positive" alert per period and day; the open abnormality blocks the release.
        cursor.execute(
            """
            WITH ins AS (
                INSERT INTO monitoring_monitoringalert (period_id, kind, day, created_at)
                SELECT DISTINCT period_id, 'positive', %(day)s::date, %(now)s
                FROM lab_effect WHERE result = 'positive' AND period_id IS NOT NULL
                ORDER BY period_id
                ON CONFLICT (period_id, kind, day) DO NOTHING
                RETURNING period_id
            )
            UPDATE monitoring_monitoringperiod mp SET abnormal_open = true, updated_at = %(now)s
            FROM ins WHERE mp.id = ins.period_id
            RETURNING mp.id
            """,
            {"day": timezone.localtime(now).date(), "now": now},
        )
        alerted_periods = {row[0] for row in cursor.fetchall()}
        cursor.execute("DROP TABLE lab_effect")
    events = []
    for person_id, period_id, task_id, division_id, result_id, test_id, lab, sample_id in positives:
        if period_id is not None and period_id not in alerted_periods:
            continue  # the period's positive alert of the day was already raised
        events.append(
            {
                "kind": "positive_result",
                "division_id": division_id or fallback_division,
                "task_id": task_id,
                "data": {
                    "person": person_id,
                    "period": period_id,
                    "lab_result": result_id,
                    "test_result": test_id,
                    "lab": lab,
                    "sample_id": sample_id,
                    "division": division_id or fallback_division,
                },
            }
        )
    notify_desk_and_experts(events, now=now)
    person_ids = [row[0] for row in positives]
    fallback = {row[0]: fallback_division for row in positives if fallback_division}
    open_or_escalate_investigation(person_ids, _("Positive test result"), now, divisions=fallback)
    return int(positive_count)


def on_test_results(*, test_ids: list[int], now: datetime) -> None:
    """Receiver of tasks.hooks: results typed into tasks by the field team have the same effects."""
    apply_effects(test_result_ids=test_ids, now=now)
