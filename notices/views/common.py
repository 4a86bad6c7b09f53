"""What the notice pages and the API share: the staff check, the masked row, the period and level of
the evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date

from tasks.access_log import record_access
from tasks.masking import mask_name
from tasks.models import AccessAction

from ..models import Notice
from ..permissions import STAFF_ROLES

if TYPE_CHECKING:
    from tasks.models import User


def errors_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def require_staff(user: Any) -> None:
    if not (user.is_superuser or getattr(user, "role", None) in STAFF_ROLES):
        raise Http404


def actor_of(request: HttpRequest) -> User:
    """The signed-in account of a login-required view (the services take a `User`)."""
    return cast("User", request.user)


def row_of(notice: Notice, unmasked: bool) -> dict[str, Any]:
    return {
        "id": notice.pk,
        "state": notice.state,
        "category": notice.category,
        "urgent": notice.urgent,
        "division": notice.division_id,
        "person": notice.person.name if unmasked else mask_name(notice.person.name),
        "title": notice.title,
        "submitted_at": notice.submitted_at,
        "push_due": notice.push_due,
    }


def period_of(request: HttpRequest) -> tuple[datetime, datetime]:
    today = timezone.localdate()
    start = parse_date(request.GET.get("start") or "") or today - timedelta(days=29)
    end = parse_date(request.GET.get("end") or "") or today
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, datetime.min.time()), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), tz),
    )


def level_of(request: HttpRequest) -> int:
    return {"city": 4, "county": 6, "township": 9}.get(request.GET.get("level", "county"), 6)


def log_reads(request: Any, notices: list[Notice]) -> None:
    """Every notice shown names its person: each read is in the access log, against the notice's task
    (or its person when it has none), one statement per page."""
    objects = [notice.task if notice.task_id else notice.person for notice in notices]
    if objects:
        record_access(request, action=AccessAction.VIEW, objects=objects)
