"""Generation of notices, in sets: from approved disposal proposals asking for a notice (a step, looped
by the `notices_generate` command and its beat job) and from batch rules over a set of persons. Every
generated notice is submitted to the county desk; generation is idempotent (unique constraints, ON
CONFLICT DO NOTHING)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notices import rules
from notices.models import (
    BoardMessage,
    Notice,
    NoticeSource,
    NoticeState,
)
from notices.permissions import can_run_rules
from notices.selectors import template_for, templates_by_category
from reviews.models import DisposalProposal
from tasks.models import Division, Unit

if TYPE_CHECKING:
    from tasks.models import User

logger = logging.getLogger(__name__)


def _desk_names(county_codes: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    counties = dict(Division.objects.filter(code__in=county_codes).values_list("code", "name"))
    desks = dict(
        Unit.objects.filter(kind=Unit.Kind.DUTY_DESK, division_id__in=county_codes).values_list(
            "division_id", "name"
        )
    )
    return counties, desks


def notices_generate_from_proposals(*, now: datetime | None = None, limit: int = 1000) -> int:
    """One notice per approved disposal proposal with `notify_person`, submitted to the county desk.
    One SELECT for the set (index disposal_to_notify), one INSERT (ON CONFLICT DO NOTHING: a second
    run, or two at once, create nothing twice). Returns how many were created."""
    now = now or timezone.now()
    lookback = now - timedelta(days=settings.NOTICE_GENERATE_LOOKBACK_DAYS)
    proposals = list(
        DisposalProposal.objects.filter(notify_person=True, approved_at__gte=lookback, approved_at__lte=now)
        .exclude(notices__source=NoticeSource.DISPOSAL)
        .select_related("person", "task")
        .annotate(sources=ArrayAgg("task__leads__source", distinct=True, default=[]))
        .order_by("approved_at", "id")[:limit]
    )
    if not proposals:
        return 0
    templates = templates_by_category()
    counties, desks = _desk_names({p.task.division_id[:6] for p in proposals if p.task.division_id})
    rows = []
    for p in proposals:
        if not p.task.division_id:
            continue
        category = rules.category_for(p.sources, p.measure)
        title, body, urgent = templates[category]
        county = p.task.division_id[:6]
        values = rules.variables_for(
            person_name=p.person.name,
            measure=p.measure,
            measure_days=p.measure_days,
            start=p.approved_at,
            test_days=list(p.test_schedule_days),
            county=counties.get(county, ""),
            desk=desks.get(county, ""),
        )
        try:
            rendered = rules.render(
                title, body, values, secrets=rules.secrets_of(p.person.id_number, p.task.address)
            )
        except rules.NoticeUnsafe:
            logger.error("notice for proposal %s not generated: the text would contain personal data", p.pk)
            continue
        rows.append(
            Notice(
                person_id=p.person_id,
                task_id=p.task_id,
                division_id=p.task.division_id,
                source=NoticeSource.DISPOSAL,
                proposal_id=p.pk,
                category=category,
                title=rendered.title,
                text=rendered.text,
                variables=rendered.variables,
                urgent=urgent,
                state=NoticeState.COUNTY_REVIEW,
                created_at=now,
                submitted_at=now,
                submitted_by_id=p.proposed_by_id,
            )
        )
    created = Notice.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


@transaction.atomic
def notices_generate_for_rule(
    *, rule: str, area_code: str, since: datetime, actor: User | None = None, now: datetime | None = None
) -> int:
    """A batch rule over a set of persons, e.g. "returnees_from_area": every person with a returnee lead
    from `area_code` (payload origin_division) since `since` gets a notice, submitted to the county
    desk; the area gets one aggregate display-board message. One SELECT, one INSERT. Idempotent per
    (rule, area, day of `since`)."""
    now = now or timezone.now()
    if rule not in rules.BATCH_RULES:
        raise ValidationError({"rule": _("Unknown batch rule.")})
    if actor is not None and not can_run_rules(actor):
        raise PermissionDenied(_("Only a county or city duty desk runs batch rules."))
    area = Division.objects.filter(code=area_code).first()
    if area is None:
        raise ValidationError({"area_code": _("Unknown division code.")})
    from tasks.models import Lead

    leads = Lead.objects.filter(
        source="returnee",
        reported_at__gte=since,
        reported_at__lte=now,
        link__isnull=False,
        payload__origin_division__startswith=area_code,
        link__task__division__isnull=False,
    )
    if actor is not None and not actor.is_superuser:
        leads = leads.filter(link__task__division__code__startswith=cast(str, actor.division_id))
    rows_found = list(
        leads.order_by("link__task__person_id", "-reported_at")
        .distinct("link__task__person_id")
        .values(
            "link__task__person_id",
            "link__task_id",
            "link__task__division_id",
            "link__task__person__name",
            "link__task__person__id_number",
            "link__task__address",
        )
    )
    # The consumed lead's task, under the names the rest of the rule reads.
    found: list[dict[str, Any]] = [
        {key.removeprefix("link__"): value for key, value in row.items()} for row in rows_found
    ]
    config = rules.BATCH_RULES[rule]
    rule_key = f"{rule}:{area_code}:{timezone.localtime(since).date().isoformat()}"
    already = set(
        Notice.objects.filter(source=NoticeSource.BATCH_RULE, rule_key=rule_key).values_list(
            "person_id", flat=True
        )
    )
    found = [row for row in found if row["task__person_id"] not in already]
    title, body, urgent = template_for(config["category"])
    counties, desks = _desk_names({row["task__division_id"][:6] for row in found})
    rows = []
    for row in found:
        county = row["task__division_id"][:6]
        values = rules.variables_for(
            person_name=row["task__person__name"],
            start=now,
            area=area.name,
            county=counties.get(county, ""),
            desk=desks.get(county, ""),
        )
        try:
            rendered = rules.render(
                title,
                body,
                values,
                secrets=rules.secrets_of(row["task__person__id_number"], row["task__address"]),
            )
        except rules.NoticeUnsafe:
            logger.error(
                "batch notice for person %s not generated: personal data in the text", row["task__person_id"]
            )
            continue
        rows.append(
            Notice(
                person_id=row["task__person_id"],
                task_id=row["task_id"],
                division_id=row["task__division_id"],
                source=NoticeSource.BATCH_RULE,
                rule=rule,
                rule_key=rule_key,
                category=config["category"],
                title=rendered.title,
                text=rendered.text,
                variables=rendered.variables,
                urgent=urgent,
                state=NoticeState.COUNTY_REVIEW,
                created_at=now,
                submitted_at=now,
                submitted_by=actor,
            )
        )
    # ON CONFLICT DO NOTHING covers a concurrent run of the same rule; the count is of this run's rows.
    created = Notice.objects.bulk_create(rows, ignore_conflicts=True)
    board_text = config["board_text"].replace("{area}", area.name)
    rules.validate_board_text(board_text)
    BoardMessage.objects.bulk_create(
        [
            BoardMessage(
                division=area,
                text=board_text,
                published_at=now,
                expires_at=now + timedelta(days=14),
                created_by=actor,
                rule_key=rule_key,
            )
        ],
        ignore_conflicts=True,
    )
    return len(created)
