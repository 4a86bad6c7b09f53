"""Field work services (issue 5): the records the village sub-unit makes on a task, and its milestones.

Every write:

1. locks the task row (the workflow services lock it again in the same transaction: harmless);
2. returns the row already stored when the client's `idempotency_key` was seen before (a phone that
   lost the answer re-sends; nothing is created twice, and a resend never turns into a conflict);
3. checks that the task still takes field work (`FIELD_EDITABLE`) and that the `version` the client
   last saw is the current one — otherwise `FieldConflict` (HTTP 409) says what changed meanwhile
   (transferred, returned, re-assigned, submitted, ...), so a stale form is never silently applied;
4. validates (django ValidationError with a message per field, HTTP 400);
5. changes the task's state only through tasks/workflow.py (`task_receive`, `task_mark_radius_limited`,
   `task_mark_traced`, `task_submit`), which record the TaskTransition and stop the clocks.

Creating records does not change the task's `version`; the milestones do (through workflow). The
response of every write carries the task's version, and the phone bases its queued forms on it.

Authorisation: callers fetch the task with `selectors.get_visible_or_404` (outside the territory: 404);
the services check the role (`task.fieldwork`) and raise PermissionDenied.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from . import hooks, workflow
from .models import (
    CloseContact,
    ContactAttempt,
    Division,
    IdType,
    Lead,
    Priority,
    RadiusControl,
    Registration,
    Source,
    TaskKind,
    TaskStatus,
    TaskTransition,
    TestResult,
    TracingTask,
    TrajectoryEntry,
    Transfer,
    User,
)
from .roles import can
from .validation import (
    RESIDENT_ID,
    clean_document,
    clean_id_type,
    clean_name,
    clean_phone,
    id_number_hash,
    name_birth_hash,
    person_key,
    phone_hash,
    region_codes,
)

S = TaskStatus

# States in which the sub-unit works on the task. Dispatched tasks are received implicitly by the
# first field record (contacting the person is the receipt).
FIELD_EDITABLE = frozenset({S.DISPATCHED, S.RECEIVED, S.RADIUS_LIMITED, S.TRACED, S.RETURNED})
# Times from the phone may run a little ahead of the server's clock.
FUTURE_TOLERANCE = timedelta(minutes=10)
EARLIEST = datetime(2019, 12, 1, tzinfo=timezone.get_fixed_timezone(480))


class FieldConflict(Exception):
    """The task changed in a way that makes the client's form stale, or it no longer takes field work.
    The API answers 409 with `code`, `detail` and the task's current state."""

    def __init__(self, code: str, detail: str, task: TracingTask | None = None, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.task = task
        self.extra = extra

    def as_dict(self) -> dict:
        data: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.task is not None:
            data["task"] = {
                "id": self.task.pk,
                "status": self.task.status,
                "status_label": str(S(self.task.status).label),
                "version": self.task.version,
            }
        data.update(self.extra)
        return data


# A field record model (each has its own manager; their abstract base FieldRecord has none).
R = TypeVar("R", ContactAttempt, RadiusControl, TrajectoryEntry, CloseContact, TestResult, Registration)


@dataclass
class Outcome:
    """What a write returns: the record, whether this call created it, and the task as it is now."""

    record: Model | None
    created: bool
    task: TracingTask
    extra: dict = field(default_factory=dict)


# --- checks ------------------------------------------------------------------------------------------


def _require_fieldwork(actor: User) -> None:
    if not can(actor, "task.fieldwork"):
        raise PermissionDenied(_("Your role may not do this."))


def _lock(task: TracingTask) -> TracingTask:
    return TracingTask.objects.select_for_update(of=("self",)).select_related("division").get(pk=task.pk)


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _who(user) -> str:
    return getattr(user, "display_name", None) or _("someone")


def describe_change(task: TracingTask, actor: User, seen_version: int | None) -> FieldConflict:
    """Why the client's form (based on `seen_version`) is stale, in words a field worker understands."""
    status = task.status
    last = (
        TaskTransition.objects.filter(task=task)
        .exclude(actor=actor)
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )
    by = {
        "who": _who(last.actor) if last and last.actor_id else _("the system"),
        "when": _when(last.at if last else None),
    }
    if status == S.TRANSFERRING:
        transfer = (
            Transfer.objects.filter(task=task, status=Transfer.Status.PENDING)
            .select_related("to_division")
            .first()
        )
        target = transfer.to_division.name if transfer else "?"
        return FieldConflict(
            "transferred",
            _(
                "This task was transferred to %(to)s meanwhile (by %(who)s, %(when)s). Your form was not saved."
            )
            % {"to": target, **by},
            task,
        )
    if status == S.RETURNED:
        return FieldConflict(
            "returned",
            _(
                "This task was returned for more work meanwhile (by %(who)s, %(when)s). Reload it to see the comments."
            )
            % by,
            task,
        )
    if status in (S.SUBMITTED, S.APPROVED, S.REPORTED, S.CLOSED):
        return FieldConflict(
            "submitted",
            _(
                "This task was already submitted for review (“%(status)s”, %(when)s): it can no longer be changed here."
            )
            % {"status": S(status).label, "when": _when(task.submitted_at) or by["when"]},
            task,
        )
    if status in (S.CANCELLED, S.MERGED):
        return FieldConflict(
            "closed",
            _("This task was %(status)s meanwhile (by %(who)s, %(when)s).")
            % {"status": S(status).label, **by},
            task,
        )
    if status == S.NEW:
        return FieldConflict(
            "not_dispatched", _("This task is back with the duty desk and is not dispatched to you."), task
        )
    if last is not None and (last.details or {}).get("assignment"):
        assignee = task.assignee
        if assignee is not None and assignee != actor:
            return FieldConflict(
                "reassigned",
                _("This task was re-assigned to %(to)s meanwhile (by %(who)s, %(when)s).")
                % {"to": _who(assignee), **by},
                task,
            )
    return FieldConflict(
        "stale",
        _(
            "This task changed meanwhile (now “%(status)s”, by %(who)s, %(when)s). Reload it and check before saving again."
        )
        % {"status": S(status).label, **by},
        task,
        seen_version=seen_version,
    )


def _check_fresh(task: TracingTask, actor: User, version) -> None:
    """The task takes field work, and the client saw its current version."""
    if version in (None, ""):
        raise ValidationError({"version": _("required: the version of the task your form is based on")})
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError({"version": _("must be a whole number")}) from None
    if task.status not in FIELD_EDITABLE or version != task.version:
        raise describe_change(task, actor, version)


def _key(raw) -> uuid.UUID:
    if raw in (None, ""):
        raise ValidationError({"idempotency_key": _("required: a UUID made by the client for this form")})
    try:
        return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
    except ValueError:
        raise ValidationError({"idempotency_key": _("must be a UUID")}) from None


def _existing(model: type[R], key: uuid.UUID, task: TracingTask) -> R | None:
    row = model.objects.filter(idempotency_key=key).first()
    if row is not None and row.task_id != task.pk:
        raise FieldConflict(
            "idempotency_key_reused", _("This idempotency key was already used for another task."), task
        )
    return row


def _ensure_received(task: TracingTask, actor: User, now) -> TracingTask:
    if task.status == S.DISPATCHED:
        task = workflow.task_receive(task=task, actor=actor, now=now)
    return task


class _Errors:
    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message) -> None:
        self.errors.setdefault(name, []).append(str(message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _text(data: dict, name: str, errors: _Errors, *, limit: int, required: bool = False) -> str:
    raw = data.get(name)
    if raw is None:
        raw = ""
    if isinstance(raw, (dict, list, bool)):
        errors.add(name, _("must be text"))
        return ""
    value = str(raw).strip()
    if "\x00" in value:  # PostgreSQL cannot store U+0000: a 400 here, not a DataError (500) at the INSERT
        errors.add(name, _("must not contain NUL characters"))
        return ""
    if required and not value:
        errors.add(name, _("required"))
    elif len(value) > limit:
        errors.add(name, _("at most %(n)d characters, got %(got)d") % {"n": limit, "got": len(value)})
    return value


def _time(data: dict, name: str, errors: _Errors, now: datetime, *, required: bool = True) -> datetime | None:
    raw = data.get(name)
    if raw in (None, ""):
        if required:
            errors.add(name, _("required"))
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            errors.add(name, _("not a date and time (use ISO 8601, e.g. 2024-05-01T08:30:00+08:00)"))
            return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_TOLERANCE:
        errors.add(name, _("is in the future"))
        return None
    if value < EARLIEST:
        errors.add(name, _("is before December 2019"))
        return None
    return value


def _choice(data: dict, name: str, choices, errors: _Errors, *, default: str | None = None) -> str:
    raw = data.get(name)
    if raw in (None, ""):
        if default is not None:
            return default
        errors.add(name, _("required"))
        return ""
    value = str(raw)
    if value not in choices.values:
        errors.add(
            name,
            _("unknown value %(value)s; one of %(choices)s")
            % {"value": value[:40], "choices": ", ".join(choices.values)},
        )
        return ""
    return value


def _bool(data: dict, name: str, errors: _Errors) -> bool | None:
    raw = data.get(name)
    if isinstance(raw, bool):
        return raw
    if raw in ("true", "1", "on", "yes", 1):
        return True
    if raw in ("false", "0", "no", 0):
        return False
    errors.add(name, _("required: true or false"))
    return None


def _division(data: dict, name: str, errors: _Errors, *, required: bool) -> Division | None:
    raw = data.get(name)
    if raw in (None, ""):
        if required:
            errors.add(name, _("required: choose the division"))
        return None
    code = str(raw).strip()
    if "\x00" in code or len(code) > 20:
        errors.add(name, _("no division has code %(code)s") % {"code": code.replace("\x00", "")[:20]})
        return None
    if len(code) == 12 and code.endswith("000"):
        from .models import normalize_code

        try:
            code = normalize_code(code)
        except ValueError:
            pass
    division = Division.objects.filter(code=code).first()
    if division is None:
        errors.add(name, _("no division has code %(code)s") % {"code": code[:20]})
        return None
    if division.level in ("province", "city"):
        errors.add(
            name,
            _("choose a county, township or village, not a whole %(level)s")
            % {"level": division.get_level_display()},
        )
        return None
    return division


def _coordinates(data: dict, errors: _Errors) -> tuple[Decimal | None, Decimal | None]:
    raw_lat, raw_lon = data.get("latitude"), data.get("longitude")
    if raw_lat in (None, "") and raw_lon in (None, ""):
        return None, None
    values: list[Decimal | None] = []
    for name, raw, bound in (("latitude", raw_lat, 90), ("longitude", raw_lon, 180)):
        if raw in (None, ""):
            errors.add(name, _("give latitude and longitude together"))
            values.append(None)
            continue
        try:
            value = Decimal(str(raw)).quantize(Decimal("0.000001"))
        except ArithmeticError:
            errors.add(name, _("must be a number"))
            values.append(None)
            continue
        if not value.is_finite() or abs(value) > bound:
            errors.add(name, _("must be between -%(b)d and %(b)d") % {"b": bound})
            values.append(None)
            continue
        values.append(value)
    return values[0], values[1]


def _created(
    model: type[R], *, task: TracingTask, actor: User, key: uuid.UUID, now: datetime, **values: Any
) -> R:
    return model.objects.create(
        task=task, idempotency_key=key, created_by=actor, created_at=now, updated_at=now, **values
    )


def _start_record(
    model: type[R], *, task: TracingTask, actor: User, data: dict
) -> tuple[TracingTask, uuid.UUID, R | None]:
    """What every new field record begins with: the role, the task locked, a resend of the same
    idempotency key answered with the record it made, and a stale form refused (409)."""
    _require_fieldwork(actor)
    task = _lock(task)
    key = _key(data.get("idempotency_key"))
    existing = _existing(model, key, task)
    if existing is None:
        _check_fresh(task, actor, data.get("version"))
    return task, key, existing


# --- contact attempts --------------------------------------------------------------------------------


@transaction.atomic
def record_attempt(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    """A phone call or visit to the person, reached or not."""
    now = now or timezone.now()
    task, key, existing = _start_record(ContactAttempt, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    errors = _Errors()
    values: dict[str, Any] = {
        "method": _choice(data, "method", ContactAttempt.Method, errors),
        "reached": _bool(data, "reached", errors),
        "attempted_at": _time(data, "attempted_at", errors, now),
        "note": _text(data, "note", errors, limit=2000),
    }
    errors.raise_if_any()
    task = _ensure_received(task, actor, now)
    record = _created(ContactAttempt, task=task, actor=actor, key=key, now=now, **values)
    return Outcome(record, True, task)


# --- radius limited (3-hour milestone) ---------------------------------------------------------------


@transaction.atomic
def record_radius(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    """Where the person is now and the control measure. A measure other than "not reached" limits the
    radius: the first one moves the task to radius_limited and stops the 3-hour clock at its time."""
    now = now or timezone.now()
    task, key, existing = _start_record(RadiusControl, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    errors = _Errors()
    latitude, longitude = _coordinates(data, errors)
    values: dict[str, Any] = {
        "division": _division(data, "division_code", errors, required=True),
        "address": _text(data, "address", errors, limit=500),
        "latitude": latitude,
        "longitude": longitude,
        "measure": _choice(data, "measure", RadiusControl.Measure, errors),
        "quarantine_site": _text(data, "quarantine_site", errors, limit=200),
        "controlled_at": _time(data, "controlled_at", errors, now),
        "note": _text(data, "note", errors, limit=2000),
    }
    accuracy = data.get("location_accuracy_m")
    if accuracy not in (None, ""):
        try:
            values["location_accuracy_m"] = max(0, int(float(accuracy)))
        except (TypeError, ValueError):
            errors.add("location_accuracy_m", _("must be a number of metres"))
    if values["measure"] == RadiusControl.Measure.CENTRALISED_QUARANTINE and not values["quarantine_site"]:
        errors.add("quarantine_site", _("required for centralised quarantine: name the site"))
    if values["measure"] == RadiusControl.Measure.NOT_REACHED and data.get("division_code") in (None, ""):
        # Not reached: where the person is may be unknown; the task's own division stands in.
        errors.errors.pop("division_code", None)
        values["division"] = task.division
    errors.raise_if_any()
    task = _ensure_received(task, actor, now)
    record = _created(RadiusControl, task=task, actor=actor, key=key, now=now, **values)
    if record.limits_radius and task.status == S.RECEIVED:
        task = workflow.task_mark_radius_limited(task=task, actor=actor, at=record.controlled_at, now=now)
    return Outcome(record, True, task)


# --- trajectory ----------------------------------------------------------------------------------------

TRAJECTORY_FIELDS = (
    "started_at",
    "ended_at",
    "place_name",
    "address",
    "division_code",
    "latitude",
    "longitude",
    "activity",
    "transport",
    "vehicle_number",
    "seat",
    "companions",
)
NUMBERED_TRANSPORT = frozenset({"bus", "metro", "train", "flight", "ship", "taxi"})


def _trajectory_values(data: dict, now, *, partial_of: TrajectoryEntry | None = None) -> dict:
    """Validated field values; with `partial_of`, fields absent from `data` keep the entry's values."""
    if partial_of is not None:
        base = {
            "started_at": partial_of.started_at,
            "ended_at": partial_of.ended_at,
            "place_name": partial_of.place_name,
            "address": partial_of.address,
            "division_code": partial_of.division_id or "",
            "latitude": partial_of.latitude,
            "longitude": partial_of.longitude,
            "activity": partial_of.activity,
            "transport": partial_of.transport,
            "vehicle_number": partial_of.vehicle_number,
            "seat": partial_of.seat,
            "companions": partial_of.companions,
        }
        data = {**base, **{k: v for k, v in data.items() if k in TRAJECTORY_FIELDS}}
    errors = _Errors()
    latitude, longitude = _coordinates(data, errors)
    values: dict[str, Any] = {
        "started_at": _time(data, "started_at", errors, now),
        "ended_at": _time(data, "ended_at", errors, now),
        "place_name": _text(data, "place_name", errors, limit=200, required=True),
        "address": _text(data, "address", errors, limit=500),
        "division": _division(data, "division_code", errors, required=False),
        "latitude": latitude,
        "longitude": longitude,
        "activity": _text(data, "activity", errors, limit=2000),
        "transport": _choice(
            data, "transport", TrajectoryEntry.Transport, errors, default=TrajectoryEntry.Transport.NONE
        ),
        "vehicle_number": _text(data, "vehicle_number", errors, limit=50),
        "seat": _text(data, "seat", errors, limit=30),
        "companions": _text(data, "companions", errors, limit=2000),
    }
    if values["started_at"] and values["ended_at"] and values["ended_at"] < values["started_at"]:
        errors.add(
            "ended_at", _("ends before it starts (%(start)s)") % {"start": _when(values["started_at"])}
        )
    if values["transport"] in ("train", "flight") and not values["vehicle_number"]:
        errors.add("vehicle_number", _("required for a train or flight: the train or flight number"))
    errors.raise_if_any()
    return values


@transaction.atomic
def trajectory_add(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    now = now or timezone.now()
    task, key, existing = _start_record(TrajectoryEntry, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    values = _trajectory_values(data, now)
    task = _ensure_received(task, actor, now)
    record = _created(TrajectoryEntry, task=task, actor=actor, key=key, now=now, **values)
    return Outcome(record, True, task)


def _entry(task: TracingTask, entry_id) -> TrajectoryEntry:
    from django.http import Http404

    try:
        return TrajectoryEntry.objects.select_for_update().get(pk=int(entry_id), task=task)
    except (TrajectoryEntry.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def _check_revision(entry: TrajectoryEntry, data: dict) -> None:
    raw = data.get("revision")
    if raw in (None, ""):
        return
    try:
        revision = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({"revision": _("must be a whole number")}) from None
    if revision != entry.revision:
        who = _who(entry.updated_by) if entry.updated_by_id else _who(entry.created_by)
        raise FieldConflict(
            "entry_changed",
            _(
                "This trajectory entry was changed by %(who)s at %(when)s meanwhile. Reload it before editing again."
            )
            % {"who": who, "when": _when(entry.updated_at)},
            entry.task,
            entry={"id": entry.pk, "revision": entry.revision},
        )


@transaction.atomic
def trajectory_edit(
    *, task: TracingTask, actor: User, entry_id, data: dict, now: datetime | None = None
) -> Outcome:
    """Change an entry (only while the task takes field work). `data` may be partial. Optional
    `revision` (the entry's revision the form was based on) guards against overwriting a colleague's edit;
    `idempotency_key` of the edit makes a resend a no-op."""
    now = now or timezone.now()
    _require_fieldwork(actor)
    task = _lock(task)
    entry = _entry(task, entry_id)
    edit_key = _key(data["idempotency_key"]) if data.get("idempotency_key") not in (None, "") else None
    if edit_key is not None and entry.last_edit_key == edit_key:
        return Outcome(entry, False, task)
    _check_fresh(task, actor, data.get("version"))
    if entry.deleted_at is not None:
        raise FieldConflict(
            "entry_deleted", _("This trajectory entry was deleted meanwhile."), task, entry={"id": entry.pk}
        )
    _check_revision(entry, data)
    values = _trajectory_values(data, now, partial_of=entry)
    changed = [name for name, value in values.items() if getattr(entry, name) != value]
    for name in changed:
        setattr(entry, name, values[name])
    entry.revision += 1
    entry.last_edit_key = edit_key
    entry.updated_by = actor
    entry.updated_at = now
    entry.save(update_fields=[*changed, "revision", "last_edit_key", "updated_by", "updated_at"])
    return Outcome(entry, True, task, {"changed": changed})


@transaction.atomic
def trajectory_delete(
    *, task: TracingTask, actor: User, entry_id, data: dict, now: datetime | None = None
) -> Outcome:
    """Delete an entry before submission (kept as deleted, for the history and for idempotency)."""
    now = now or timezone.now()
    _require_fieldwork(actor)
    task = _lock(task)
    entry = _entry(task, entry_id)
    if entry.deleted_at is not None:
        return Outcome(entry, False, task)
    _check_fresh(task, actor, data.get("version"))
    _check_revision(entry, data)
    entry.deleted_at = now
    entry.updated_by = actor
    entry.updated_at = now
    entry.revision += 1
    entry.save(update_fields=["deleted_at", "updated_by", "updated_at", "revision"])
    return Outcome(entry, True, task)


# --- close contacts → leads -----------------------------------------------------------------------------


def _contact_document(data: dict, raw_id: str, errors: _Errors, today) -> tuple[str, str, str, bool]:
    """The close contact's document as the intake validates a lead's (validation._check_document):
    (id_type, the number as stored, the text of its blind index, whether a resident ID's region is
    missing from the division codes). An absent or empty `id_type` is a resident ID, as an empty cell
    in a file."""
    raw_type = _text(data, "id_type", errors, limit=40)
    if errors.errors.get("id_type"):  # not text: which document the number is stays unknown
        return RESIDENT_ID, "", "", False
    try:
        id_type = clean_id_type(raw_type)
    except ValueError as exc:
        errors.add("id_type", exc)
        return RESIDENT_ID, "", "", False
    if not raw_id:
        if id_type != RESIDENT_ID:
            errors.add("id_number", _("required with id_type %(type)s") % {"type": IdType(id_type).label})
        return id_type, "", "", False
    if errors.errors.get("id_number"):  # not text, or too long: already said
        return id_type, "", "", False
    try:
        id_number, id18 = clean_document(id_type, raw_id, today)
    except ValueError as exc:
        errors.add("id_number", exc)
        return id_type, "", "", False
    unknown = False
    if id_type == RESIDENT_ID:
        unknown = not Division.objects.filter(code__in=region_codes(id_number[:6])).exists()
    return id_type, id_number, id18, unknown


@transaction.atomic
def record_contact(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    """A close contact found by this task. Creates, in the same transaction, the Lead (source
    close_contact, related_task = this task, person_key and keyed hashes as the intake computes them)
    that the next intake batch turns into a task of generation + 1 linked to this one."""
    now = now or timezone.now()
    task, key, existing = _start_record(CloseContact, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    errors = _Errors()
    name = clean_name(_text(data, "name", errors, limit=50))
    raw_id = _text(data, "id_number", errors, limit=30)
    id_type, id_number, id18, id_region_unknown = _contact_document(
        data, raw_id, errors, timezone.localdate(now)
    )
    raw_phone = _text(data, "phone", errors, limit=30)
    phone = ""
    if raw_phone:
        try:
            # As the intake takes it (validation.clean_phone): a mainland mobile as its 11 digits, any
            # other number (+852 …) in E.164, so phone_hash and person_key match a file's lead.
            phone = clean_phone(raw_phone)
        except ValueError as exc:
            errors.add("phone", exc)
    address = _text(data, "address", errors, limit=500)
    if not (raw_id or raw_phone or (name and address)) and not errors.errors.get("id_number"):
        errors.add(
            "id_number",
            _("required to find the person: give the ID number, or the phone, or the name and address"),
        )
    if not name and not errors.errors.get("id_number"):
        errors.add("name", _("required"))
    values: dict[str, Any] = {
        "name": name,
        "relation": _choice(data, "relation", CloseContact.Relation, errors),
        "last_contact_at": _time(data, "last_contact_at", errors, now),
        "last_contact_place": _text(data, "last_contact_place", errors, limit=200),
        "division": _division(data, "division_code", errors, required=True),
        "address": address,
    }
    errors.raise_if_any()
    task = _ensure_received(task, actor, now)
    relation_label = CloseContact.Relation(values["relation"]).label
    lead = Lead.objects.create(
        source=Source.CLOSE_CONTACT,
        external_id=f"field:{key}",
        id_type=id_type,
        id_number=id_number,
        id_number_hash=id_number_hash(id18) if id18 else "",
        id_region_unknown=id_region_unknown,
        name=name,
        phone=phone,
        phone_hash=phone_hash(phone) if phone else "",
        name_birth_hash=name_birth_hash(name, id18) if id18 and name else "",
        division=values["division"],
        address=address,
        # The place of last contact stays on the close contact record (encrypted), out of the lead's
        # plaintext reason and payload.
        reason=_("Close contact found by task %(task)s (%(relation)s), last contact %(when)s")
        % {
            "task": f"T{task.pk}",
            "relation": relation_label,
            "when": _when(values["last_contact_at"]),
        },
        reported_at=now,
        received_at=now,
        related_task=task,
        payload={
            "relation": values["relation"],
            "last_contact_at": values["last_contact_at"].isoformat(),
        },
        priority=Priority.CLOSE_CONTACT,
        person_key=person_key(id18=id18, phone=phone, name=name),
        channel="field",
        created_by=actor,
    )
    record = _created(
        CloseContact,
        task=task,
        actor=actor,
        key=key,
        now=now,
        id_number=id_number,
        phone=phone,
        lead=lead,
        **values,
    )
    return Outcome(record, True, task)


# --- test results ----------------------------------------------------------------------------------------


@transaction.atomic
def record_test(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    now = now or timezone.now()
    task, key, existing = _start_record(TestResult, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    errors = _Errors()
    values: dict[str, Any] = {
        "sampled_at": _time(data, "sampled_at", errors, now),
        "test_type": _choice(data, "test_type", TestResult.Type, errors),
        "result": _choice(data, "result", TestResult.Result, errors),
        "lab": _text(data, "lab", errors, limit=200),
        "note": _text(data, "note", errors, limit=2000),
    }
    errors.raise_if_any()
    task = _ensure_received(task, actor, now)
    record = _created(TestResult, task=task, actor=actor, key=key, now=now, **values)
    hooks.field_test_results([record.pk], now)
    return Outcome(record, True, task)


# --- returnee registration ------------------------------------------------------------------------------


@transaction.atomic
def record_registration(
    *, task: TracingTask, actor: User, data: dict, now: datetime | None = None
) -> Outcome:
    """The returnee's registration: arrival (when, from where), where they stay, health state, phone
    confirmed, a note. The first one completes the registration: `registered_at` stops the register
    clock, the history says so, and the apps built on tasks start health monitoring
    (hooks.registration_completed) in this transaction. A second registration of the same task is a
    conflict (409), a resend of the same form is answered with the record it made."""
    now = now or timezone.now()
    task, key, existing = _start_record(Registration, task=task, actor=actor, data=data)
    if existing is not None:
        return Outcome(existing, False, task)
    if task.kind != TaskKind.REGISTRATION:
        raise FieldConflict(
            "not_registration", _("This task is not a returnee registration: reload it."), task
        )
    if task.registered_at is not None:
        raise FieldConflict(
            "registered",
            _("This returnee was already registered (%(when)s).") % {"when": _when(task.registered_at)},
            task,
        )
    errors = _Errors()
    values: dict[str, Any] = {
        "arrived_at": _time(data, "arrived_at", errors, now),
        "arrived_from": _text(data, "arrived_from", errors, limit=200, required=True),
        "division": _division(data, "division_code", errors, required=True),
        "address": _text(data, "address", errors, limit=500),
        "health_state": _choice(data, "health_state", Registration.HealthState, errors),
        "phone_confirmed": _bool(data, "phone_confirmed", errors),
        "note": _text(data, "note", errors, limit=2000),
    }
    if values["health_state"] and values["health_state"] != Registration.HealthState.NO_SYMPTOMS:
        if not values["note"]:
            errors.add("note", _("required when the person has symptoms: describe them"))
    errors.raise_if_any()
    task = _ensure_received(task, actor, now)
    record = _created(Registration, task=task, actor=actor, key=key, now=now, **values)
    task.registered_at = now
    workflow._save(task, now, ["registered_at"])
    workflow._record(
        task,
        from_status=task.status,
        to_status=task.status,
        actor=actor,
        now=now,
        reason=_("Returnee registered"),
        registration={"record": record.pk, "health_state": record.health_state},
    )
    hooks.registration_completed(task_ids=[task.pk], now=now)
    return Outcome(record, True, task)


# --- completeness, traced (10-hour milestone), submit ---------------------------------------------------


def missing_for(
    task: TracingTask, *, no_close_contacts: bool = False, for_submit: bool = True
) -> dict[str, str]:
    """What is still missing before the trajectory can be marked traced (`for_submit=False`) or the task
    submitted for review: {item: what to do}, empty when complete."""
    missing: dict[str, str] = {}
    if not task.contact_attempts.exists():
        missing["attempts"] = _("No contact attempt is recorded: record the call or visit.")
    radius = task.radius_controls.exclude(measure=RadiusControl.Measure.NOT_REACHED)
    if not radius.exists() and task.radius_limited_at is None:
        missing["radius"] = _("No radius record: record where the person is now and the control measure.")
    if not task.trajectory_entries.filter(deleted_at__isnull=True).exists():
        missing["trajectory"] = _("No trajectory entries: add the places the person went to.")
    if for_submit:
        if not task.test_results.exists():
            missing["tests"] = _("No test result: record the sample (a pending result is enough).")
        if not no_close_contacts and not task.close_contacts.exists():
            missing["contacts"] = _("No close contacts recorded: list them, or confirm that there are none.")
    return missing


def _incomplete(missing: dict[str, str]) -> ValidationError:
    return ValidationError({name: [message] for name, message in missing.items()})


@transaction.atomic
def mark_traced(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    """The trajectory is traced (10-hour milestone): needs the radius record and at least one entry."""
    now = now or timezone.now()
    _require_fieldwork(actor)
    task = _lock(task)
    if (
        task.status in (S.TRACED, S.SUBMITTED, S.APPROVED, S.REPORTED, S.CLOSED)
        and task.traced_at is not None
    ):
        return Outcome(None, False, task)
    _check_fresh(task, actor, data.get("version"))
    missing = missing_for(task, for_submit=False)
    if missing:
        raise _incomplete(missing)
    if task.status == S.RADIUS_LIMITED:
        task = workflow.task_mark_traced(task=task, actor=actor, now=now)
        return Outcome(None, True, task)
    if task.status == S.RETURNED:
        return Outcome(None, False, task)
    raise FieldConflict("not_radius_limited", _("Limit the activity radius first."), task)


@transaction.atomic
def submit(*, task: TracingTask, actor: User, data: dict, now: datetime | None = None) -> Outcome:
    """Submit for review: the completeness check first (every missing item named), then the traced
    milestone when it is not yet reached, then `task_submit`."""
    now = now or timezone.now()
    _require_fieldwork(actor)
    task = _lock(task)
    if (
        task.status == S.SUBMITTED
        and data.get("idempotency_key")
        and task.transitions.filter(
            to_status=S.SUBMITTED, details__idempotency_key=str(data.get("idempotency_key"))
        ).exists()
    ):
        return Outcome(None, False, task)
    _check_fresh(task, actor, data.get("version"))
    errors = _Errors()
    no_contacts = data.get("no_close_contacts")
    no_contacts = _bool(data, "no_close_contacts", errors) if no_contacts not in (None, "") else False
    errors.raise_if_any()
    missing = missing_for(task, no_close_contacts=bool(no_contacts))
    if missing:
        raise _incomplete(missing)
    if task.status == S.RECEIVED or task.status == S.DISPATCHED:
        # The radius record exists but did not move the task (e.g. recorded before a receipt rule
        # changed): take the milestone now, at the time of the first limiting record.
        task = _ensure_received(task, actor, now)
        first = (
            task.radius_controls.exclude(measure=RadiusControl.Measure.NOT_REACHED)
            .order_by("controlled_at")
            .first()
        )
        task = workflow.task_mark_radius_limited(
            task=task, actor=actor, at=first.controlled_at if first else None, now=now
        )
    if task.status == S.RADIUS_LIMITED:
        task = workflow.task_mark_traced(task=task, actor=actor, now=now)
    task = workflow.task_submit(
        task=task, actor=actor, now=now, reason=(data.get("note") or "").strip()[:2000]
    )
    key = data.get("idempotency_key")
    if key:
        last = task.transitions.filter(to_status=S.SUBMITTED).order_by("-at", "-id").first()
        if last is not None:
            last.details = {**(last.details or {}), "idempotency_key": str(key)}
            last.save(update_fields=["details"])
    return Outcome(None, True, task)
