"""Recording reads of personal data (issue 9), and the auditor's view over reads and changes.

Use from any view, API endpoint, export or report that shows a person's data:

    from tasks.access_log import record_access
    from tasks.models import AccessAction

    record_access(request, action=AccessAction.VIEW, objects=[task])                      # a detail page
    record_access(request, action=AccessAction.EXPORT, objects=tasks_queryset)            # an export: one INSERT ... SELECT
    record_access(user, action=AccessAction.REPORT, objects=task_list, fields=["name"])   # a Celery job: no request

`objects` is a QuerySet or an iterable of TracingTask, Person or Lead rows (other models with a
`division_id` work too). A QuerySet is logged in one INSERT ... SELECT without loading its rows; a list
in one INSERT. Record after the data is fetched and authorised (never for a 404). The entry keeps ids
only, never the personal data itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db import connection
from django.db.models import BigIntegerField, CharField, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest
from django.utils import timezone

from .models import AccessAction, AccessLog, Lead, Person, TracingTask
from .security import client_ip
from .selectors import scope_code

__all__ = [
    "AccessAction",
    "access_visible_to",
    "changes_visible_to",
    "record_access",
    "reveal_personal_fields",
]

REVEALABLE_FIELDS = ("id_number", "phone", "address")


def _actor(request_or_user):
    request = getattr(request_or_user, "_request", request_or_user)  # DRF Request → HttpRequest
    if isinstance(request, HttpRequest):
        return request.user, {
            "ip": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "path": request.get_full_path()[:300],
        }
    return request_or_user, {"ip": None, "user_agent": "", "path": ""}


def _describe(obj) -> tuple[str, str, int | None, int | None, str]:
    """(object_type, object_id, person_id, task_id, division_code) of one row."""
    if isinstance(obj, TracingTask):
        return "task", str(obj.pk), obj.person_id, obj.pk, obj.division_id or ""
    if isinstance(obj, Person):
        return "person", str(obj.pk), obj.pk, None, ""
    if isinstance(obj, Lead):
        return "lead", str(obj.pk), None, obj.task_id, obj.division_id or ""
    person_id = getattr(obj, "person_id", None)
    task_id = getattr(obj, "task_id", None)
    return obj._meta.model_name, str(obj.pk), person_id, task_id, getattr(obj, "division_id", "") or ""


def _latest_task(field: str, output_field):
    return Subquery(
        TracingTask.objects.filter(person_id=OuterRef("pk")).order_by("-created_at", "-id").values(field)[:1],
        output_field=output_field,
    )


def _select(queryset: QuerySet) -> QuerySet:
    """The queryset as rows of (object_type, object_id, person_id, task_id, division_code)."""
    model = queryset.model
    text = CharField()
    if issubclass(model, TracingTask):
        columns = {
            "_type": Value("task", output_field=text),
            "_id": Cast("pk", text),
            "_person": F("person_id"),
            "_task": F("pk"),
            "_division": F("division_id"),
        }
    elif issubclass(model, Person):
        columns = {
            "_type": Value("person", output_field=text),
            "_id": Cast("pk", text),
            "_person": F("pk"),
            "_task": _latest_task("id", BigIntegerField()),
            "_division": Coalesce(_latest_task("division_id", text), Value("", output_field=text)),
        }
    elif issubclass(model, Lead):
        columns = {
            "_type": Value("lead", output_field=text),
            "_id": Cast("pk", text),
            "_person": F("task__person_id"),
            "_task": F("task_id"),
            "_division": Coalesce(F("task__division_id"), F("division_id"), Value("", output_field=text)),
        }
    else:
        raise TypeError(f"record_access cannot log a {model.__name__} queryset; pass a list of rows")
    return queryset.order_by().annotate(**columns).values_list(*columns)


def record_access(
    request_or_user,
    *,
    action: str,
    objects: QuerySet | Iterable,
    fields: Iterable[str] = (),
    reason: str = "",
) -> int:
    """Write one access-log entry per object, in one statement. Returns the number of entries."""
    if action not in AccessAction.values:
        raise ValueError(f"unknown access action {action!r}")
    user, origin = _actor(request_or_user)
    if not getattr(user, "is_authenticated", False):
        raise ValueError("record_access needs the account that read the data")
    common = {
        "at": timezone.now(),
        "user_id": user.pk,
        "username": user.get_username(),
        "actor_division_code": getattr(user, "division_id", "") or "",
        "action": action,
        "fields": list(fields),
        "reason": reason,
        **origin,
    }
    if isinstance(objects, QuerySet):
        return _insert_select(common, objects)
    rows = []
    for obj in objects:
        object_type, object_id, person_id, task_id, division_code = _describe(obj)
        rows.append(
            AccessLog(
                object_type=object_type,
                object_id=object_id,
                person_id=person_id,
                task_id=task_id,
                division_code=division_code,
                **common,
            )
        )
    _fill_person_divisions(rows)
    AccessLog.objects.bulk_create(rows)
    return len(rows)


def _fill_person_divisions(rows: list[AccessLog]) -> None:
    """Person rows carry no territory: take their latest task's, in one query, for the auditor's scope."""
    wanted = {
        row.person_id
        for row in rows
        if row.object_type == "person" and not row.division_code and row.person_id is not None
    }
    if not wanted:
        return
    latest = dict(
        TracingTask.objects.filter(person_id__in=wanted)
        .order_by("person_id", "-created_at", "-id")
        .distinct("person_id")
        .values_list("person_id", "division_id")
    )
    for row in rows:
        if row.object_type == "person" and not row.division_code:
            row.division_code = latest.get(row.person_id, "") if row.person_id is not None else ""


def _insert_select(common: dict, queryset: QuerySet) -> int:
    select_sql, select_params = _select(queryset).query.sql_with_params()
    table = connection.ops.quote_name(AccessLog._meta.db_table)
    sql = (
        f"INSERT INTO {table} (at, user_id, username, actor_division_code, action, fields, reason, ip, user_agent, path, "
        f"object_type, object_id, person_id, task_id, division_code) "
        f"SELECT %s, %s, %s, %s, %s, %s::jsonb, %s, %s::inet, %s, %s, "
        f"sub._type, sub._id, sub._person, sub._task, COALESCE(sub._division, '') FROM ({select_sql}) sub"
    )
    params = [
        common["at"],
        common["user_id"],
        common["username"],
        common["actor_division_code"],
        common["action"],
        json.dumps(common["fields"]),
        common["reason"],
        common["ip"],
        common["user_agent"],
        common["path"],
        *select_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def access_visible_to(user) -> QuerySet[AccessLog]:
    """Entries an auditor may search: about data in its territory, or by accounts of its territory."""
    prefix = scope_code(user)
    entries = AccessLog.objects.all()
    if prefix is None:
        return entries.none()
    if prefix == "":
        return entries
    return entries.filter(Q(division_code__startswith=prefix) | Q(actor_division_code__startswith=prefix))


def changes_visible_to(user):
    """django-auditlog's change history of the objects in the account's territory, and of changes made
    by accounts of its territory."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from .models import Division, DutyShift, Unit, UnitMembership, User
    from .selectors import accounts_visible_to, divisions_visible_to, tasks_visible_to, units_visible_to

    prefix = scope_code(user)
    entries = LogEntry.objects.select_related("actor", "content_type")
    if prefix is None:
        return entries.none()
    if prefix == "":
        return entries
    ct = ContentType.objects.get_for_models(
        TracingTask, Person, User, Unit, UnitMembership, DutyShift, Division
    )
    tasks = tasks_visible_to(user)
    units = units_visible_to(user)
    condition = (
        Q(actor__division__code__startswith=prefix)
        | Q(content_type=ct[TracingTask], object_id__in=tasks.values("pk"))
        | Q(content_type=ct[Person], object_id__in=tasks.values("person_id"))
        | Q(content_type=ct[User], object_id__in=accounts_visible_to(user).values("pk"))
        | Q(content_type=ct[Unit], object_id__in=units.values("pk"))
        | Q(
            content_type=ct[UnitMembership],
            object_id__in=UnitMembership.objects.filter(unit__in=units).values("pk"),
        )
        | Q(content_type=ct[DutyShift], object_id__in=DutyShift.objects.filter(unit__in=units).values("pk"))
        | Q(content_type=ct[Division], object_pk__in=divisions_visible_to(user).values("code"))
    )
    return entries.filter(condition)


def reveal_personal_fields(
    request, *, task: TracingTask, reason: str, fields: Iterable[str] = REVEALABLE_FIELDS
) -> dict:
    """The unmasked values of a visible task's person, logged with the reason. The caller has fetched
    `task` through the visibility selector and checked the role (masking.sees_unmasked)."""
    wanted = [field for field in REVEALABLE_FIELDS if field in set(fields)] or list(REVEALABLE_FIELDS)
    person = task.person
    values = {
        "id_number": person.id_number,
        "phone": person.phone,
        "address": task.address,
    }
    record_access(request, action=AccessAction.REVEAL, objects=[task], fields=wanted, reason=reason)
    return {field: values[field] for field in wanted}
