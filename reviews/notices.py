"""Writes and reads of notices to people (issue 8). Services `notice_<action>` / `notices_<action>` with
keyword-only arguments; periodic work as step functions that return how much they found (STYLE.md 5),
looped by the Celery tasks (reviews/tasks.py) and the management commands (notices_generate,
notices_push, notices_remind, notices_deliver).

Flow: generate (from approved disposal proposals asking for a notice; from batch rules, in sets)
→ county_review → city_review → approved (push_after / push_due set) → push step: pushed (link token,
pop-up live, SMS queued) → SMS delivery step → acknowledged (page or SMS reply) | remind step: one
reminder, then a follow-up item for the village sub-unit. Feedback: answered (explained) or corrected
(a new notice superseding this one, reviewed again at both levels).

Delivery semantics (docs/notices.md):
* The push is **exactly once per notice**: the push step claims approved notices with
  `SELECT … FOR UPDATE SKIP LOCKED` and moves them to `pushed` in the same transaction that writes the
  delivery rows (unique per notice, channel and kind), so two workers never push one notice twice.
* An SMS is **at-least-once**: a delivery row is claimed with SKIP LOCKED, sent, and marked sent in
  the same transaction. A worker dying between the gateway's "accepted" and the commit leaves the row
  pending, and it is sent again (the gateway gets the row id as `client_ref` to drop the duplicate).
  A missed isolation notice is worse than a duplicate SMS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import Division, Role, Unit
from tasks.selectors import visible_to

from . import notice_rules as rules
from .models import DisposalProposal
from .models_notices import (
    AckChannel,
    BoardMessage,
    Notice,
    NoticeCategory,
    NoticeDelivery,
    NoticeFeedback,
    NoticeFollowUp,
    NoticeSource,
    NoticeState,
    NoticeTemplate,
)

logger = logging.getLogger(__name__)


class NoticeConflict(Exception):
    def __init__(self, message: str, code: str = "notice_conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- who may do what ----------------------------------------------------------------------------------
# Review levels are derived from the account, not from new capabilities in tasks/roles.py: a duty
# officer scoped to a county (6-digit code) is the county desk, one scoped to a city (4 digits) the city
# desk. A superuser may act at both levels but never both on one notice (the service refuses).

STAFF_ROLES = {Role.DUTY_OFFICER, Role.CDC_EXPERT, Role.COMMANDER, Role.AUDITOR, Role.ADMIN}


def desk_level(user) -> str | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.role == Role.DUTY_OFFICER and user.division_id:
        return {6: "county", 4: "city"}.get(len(user.division_id))
    return None


def can_review(user, level: str) -> bool:
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return desk_level(user) == level


def can_edit_templates(user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or user.role == Role.ADMIN)
    )


def can_run_rules(user) -> bool:
    return can_review(user, "county") or can_review(user, "city")


# --- reads --------------------------------------------------------------------------------------------


def notices_visible_to(user) -> QuerySet[Notice]:
    if not getattr(user, "is_authenticated", False) or not (user.is_superuser or user.role in STAFF_ROLES):
        return Notice.objects.none()
    return visible_to(user, Notice.objects.all())


def get_notice_or_404(user, pk: int) -> Notice:
    try:
        return notices_visible_to(user).select_related("person", "task", "division").get(pk=pk)
    except (Notice.DoesNotExist, ValueError):
        raise Http404 from None


def review_queue(user, level: str) -> QuerySet[Notice]:
    state = NoticeState.COUNTY_REVIEW if level == "county" else NoticeState.CITY_REVIEW
    return (
        notices_visible_to(user)
        .filter(state=state)
        .select_related("person", "division")
        .order_by("-urgent", "submitted_at", "id")
    )


def returned_to(user) -> QuerySet[Notice]:
    """Rejected notices waiting for correction: the submitter's, and all of the territory for a desk."""
    queryset = notices_visible_to(user).filter(
        state__in=[NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY]
    )
    if desk_level(user) is None and not user.is_superuser:
        queryset = queryset.filter(submitted_by=user)
    return queryset.select_related("person", "division").order_by("rejected_at", "id")


def feedback_visible_to(user) -> QuerySet[NoticeFeedback]:
    return NoticeFeedback.objects.filter(notice__in=notices_visible_to(user).values("pk")).select_related(
        "notice", "notice__person"
    )


def follow_ups_visible_to(user) -> QuerySet[NoticeFollowUp]:
    if not getattr(user, "is_authenticated", False):
        return NoticeFollowUp.objects.none()
    return visible_to(user, NoticeFollowUp.objects.select_related("notice", "notice__person", "unit"))


# --- clock: quiet hours, push window ------------------------------------------------------------------


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_bounds() -> tuple[time, time]:
    return _hhmm(_setting("NOTICE_QUIET_START", "22:00")), _hhmm(_setting("NOTICE_QUIET_END", "07:00"))


def in_quiet_hours(moment: datetime) -> bool:
    start, end = quiet_bounds()
    local = timezone.localtime(moment).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _at(moment: datetime, clock: time, *, days: int = 0) -> datetime:
    local = timezone.localtime(moment)
    day = local.date() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, clock), local.tzinfo)


def quiet_end_after(moment: datetime) -> datetime:
    """The end of the quiet period `moment` is in (or the next one)."""
    _start, end = quiet_bounds()
    candidate = _at(moment, end)
    return candidate if candidate > moment else _at(moment, end, days=1)


def next_quiet_start(moment: datetime) -> datetime:
    start, _end = quiet_bounds()
    candidate = _at(moment, start)
    return candidate if candidate > moment else _at(moment, start, days=1)


def out_of_quiet_hours(moment: datetime) -> datetime:
    return quiet_end_after(moment) if in_quiet_hours(moment) else moment


def add_daytime(start: datetime, minutes: int) -> datetime:
    """`start` + `minutes`, the clock paused over the quiet hours."""
    remaining = timedelta(minutes=minutes)
    at = out_of_quiet_hours(start)
    for _ in range(60):
        boundary = next_quiet_start(at)
        if at + remaining <= boundary:
            return at + remaining
        remaining -= boundary - at
        at = quiet_end_after(boundary)
    return at + remaining


def push_schedule(approved_at: datetime, urgent: bool) -> tuple[datetime, datetime]:
    """(push_after, push_due) of a notice approved at `approved_at`.

    Urgent: at once, due within NOTICE_URGENT_PUSH_MINUTES (30), night or day. Normal: due within
    NOTICE_PUSH_MINUTES (120) of daytime (the clock pauses over the quiet hours, 22:00–07:00); never
    pushed in the quiet hours, nor in the NOTICE_QUIET_MARGIN_MINUTES (60) before them, so that a
    person told to act is not told at 21:59 and reminded at night: a notice approved at 21:30 waits
    for 07:00."""
    if urgent:
        return approved_at, approved_at + timedelta(minutes=_setting("NOTICE_URGENT_PUSH_MINUTES", 30))
    push_after = approved_at
    margin = timedelta(minutes=_setting("NOTICE_QUIET_MARGIN_MINUTES", 60))
    if in_quiet_hours(approved_at) or next_quiet_start(approved_at) - approved_at < margin:
        push_after = quiet_end_after(
            approved_at if in_quiet_hours(approved_at) else next_quiet_start(approved_at)
        )
    push_due = add_daytime(approved_at, _setting("NOTICE_PUSH_MINUTES", 120))
    return push_after, max(push_due, push_after)


def _later(now: datetime, minutes: int, urgent: bool) -> datetime:
    """now + minutes; for a normal notice moved out of the quiet hours."""
    moment = now + timedelta(minutes=minutes)
    return moment if urgent else out_of_quiet_hours(moment)


# --- the personal link ----------------------------------------------------------------------------------


def _token_key() -> bytes:
    return (_setting("NOTICE_TOKEN_KEY", "") or settings.SECRET_KEY).encode()


def token_for(notice: Notice) -> str:
    """The link token of a pushed notice: derived from the row's salt with a key that is not in the
    database (the database keeps only its SHA-256)."""
    digest = hmac.new(
        _token_key(), f"notice:{notice.pk}:{notice.token_salt}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def notice_link(notice: Notice) -> str:
    base = _setting("NOTICE_PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}/n/{token_for(notice)}/"


def notice_by_token(token: str, *, now: datetime | None = None) -> Notice:
    """The notice of a personal link, or 404: unknown, expired, or not pushed."""
    now = now or timezone.now()
    if not token or len(token) > 64:
        raise Http404
    notice = (
        Notice.objects.select_related("person", "superseded_by")
        .filter(
            token_hash=token_hash(token),
            state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED, NoticeState.SUPERSEDED],
        )
        .first()
    )
    if notice is None or notice.token_expires_at is None or notice.token_expires_at <= now:
        raise Http404
    return notice


# --- templates ------------------------------------------------------------------------------------------


def template_for(category: str) -> tuple[str, str, bool]:
    row = NoticeTemplate.objects.filter(category=category).first()
    if row is not None:
        return row.title, row.body, row.urgent
    default = rules.DEFAULT_TEMPLATES[category]
    return default["title"], default["body"], default["urgent"]


def templates_by_category() -> dict[str, tuple[str, str, bool]]:
    found = {row.category: (row.title, row.body, row.urgent) for row in NoticeTemplate.objects.all()}
    return {
        category: found.get(category) or (d["title"], d["body"], d["urgent"])
        for category, d in rules.DEFAULT_TEMPLATES.items()
    }


@transaction.atomic
def template_save(
    *, actor, category: str, title: str, body: str, urgent: bool, now: datetime | None = None
) -> NoticeTemplate:
    if not can_edit_templates(actor):
        raise PermissionDenied(_("Only an administrator edits notice templates."))
    if category not in NoticeCategory.values:
        raise ValidationError({"category": _("Unknown category.")})
    row = NoticeTemplate.objects.filter(category=category).first() or NoticeTemplate(category=category)
    row.title, row.body, row.urgent = title, body, urgent
    row.updated_at, row.updated_by = now or timezone.now(), actor
    row.full_clean()
    row.save()
    return row


# --- generation (in sets) ------------------------------------------------------------------------------


def _desk_names(county_codes: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    counties = dict(Division.objects.filter(code__in=county_codes).values_list("code", "name"))
    desks = dict(
        Unit.objects.filter(kind=Unit.Kind.DUTY_DESK, division_id__in=county_codes).values_list(
            "division_id", "name"
        )
    )
    return counties, desks


def _secrets_of(person_id_number: str, *addresses: str) -> list[str]:
    return [person_id_number, *addresses]


def notices_generate_from_proposals(*, now: datetime | None = None, limit: int = 1000) -> int:
    """One notice per approved disposal proposal with `notify_person`, submitted to the county desk.
    One SELECT for the set (index disposal_to_notify), one INSERT (ON CONFLICT DO NOTHING: a second
    run, or two at once, create nothing twice). Returns how many were created."""
    now = now or timezone.now()
    lookback = now - timedelta(days=_setting("NOTICE_GENERATE_LOOKBACK_DAYS", 7))
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
                title, body, values, secrets=_secrets_of(p.person.id_number, p.task.address)
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
    *, rule: str, area_code: str, since: datetime, actor=None, now: datetime | None = None
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
        leads = leads.filter(link__task__division__code__startswith=actor.division_id)
    found = list(
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
    found = [{key.removeprefix("link__"): value for key, value in row.items()} for row in found]
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
                title, body, values, secrets=_secrets_of(row["task__person__id_number"], row["task__address"])
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


# --- two-level review ------------------------------------------------------------------------------------


def _lock(notice: Notice) -> Notice:
    return Notice.objects.select_for_update().get(pk=notice.pk)


@transaction.atomic
def notice_approve(*, notice: Notice, actor, now: datetime | None = None) -> Notice:
    """The county desk passes a notice on to the city desk; the city desk approves it for the push.
    The level is the actor's (desk_level); the same account can never hold both."""
    now = now or timezone.now()
    notice = _lock(notice)
    if notice.state == NoticeState.COUNTY_REVIEW and can_review(actor, "county"):
        notice.state, notice.county_reviewer, notice.county_reviewed_at = NoticeState.CITY_REVIEW, actor, now
        notice.save(update_fields=["state", "county_reviewer", "county_reviewed_at"])
        return notice
    if notice.state == NoticeState.CITY_REVIEW and can_review(actor, "city"):
        if notice.county_reviewer_id == actor.pk:
            raise NoticeConflict(
                _("The county reviewer cannot also give the city approval."), "same_reviewer"
            )
        notice.state, notice.city_reviewer, notice.city_reviewed_at = NoticeState.APPROVED, actor, now
        notice.approved_at = now
        notice.push_after, notice.push_due = push_schedule(now, notice.urgent)
        notice.save(
            update_fields=[
                "state",
                "city_reviewer",
                "city_reviewed_at",
                "approved_at",
                "push_after",
                "push_due",
            ]
        )
        return notice
    if notice.state in (NoticeState.COUNTY_REVIEW, NoticeState.CITY_REVIEW):
        raise PermissionDenied(_("This notice waits for the other review level."))
    raise NoticeConflict(_("This notice is not waiting for a review."), "not_in_review")


@transaction.atomic
def notice_reject(*, notice: Notice, actor, reason: str, now: datetime | None = None) -> Notice:
    """Back to the submitter with a reason (the "returned" list of the county desk and the submitter)."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the notice is rejected.")})
    notice = _lock(notice)
    if notice.state == NoticeState.COUNTY_REVIEW and can_review(actor, "county"):
        notice.state, notice.county_reviewer, notice.county_reviewed_at = (
            NoticeState.REJECTED_COUNTY,
            actor,
            now,
        )
    elif notice.state == NoticeState.CITY_REVIEW and can_review(actor, "city"):
        notice.state, notice.city_reviewer, notice.city_reviewed_at = NoticeState.REJECTED_CITY, actor, now
    elif notice.state in (NoticeState.COUNTY_REVIEW, NoticeState.CITY_REVIEW):
        raise PermissionDenied(_("This notice waits for the other review level."))
    else:
        raise NoticeConflict(_("This notice is not waiting for a review."), "not_in_review")
    notice.rejection_reason, notice.rejected_by, notice.rejected_at = reason, actor, now
    notice.rejections += 1
    notice.save(
        update_fields=[
            "state",
            "county_reviewer",
            "county_reviewed_at",
            "city_reviewer",
            "city_reviewed_at",
            "rejection_reason",
            "rejected_by",
            "rejected_at",
            "rejections",
        ]
    )
    return notice


def _check_text(notice: Notice, title: str, text: str) -> None:
    rules.validate_template_text(title, field="title")
    rules.validate_template_text(text, field="text")
    try:
        rules.assert_no_identifiers(
            title + "\n" + text,
            secrets=_secrets_of(notice.person.id_number, notice.task.address if notice.task_id else ""),
        )
    except rules.NoticeUnsafe as exc:
        raise ValidationError(
            {"text": _("A notice may never contain the ID number, a phone number or an address.")}
        ) from exc


@transaction.atomic
def notice_resubmit(
    *, notice: Notice, actor, title: str, text: str, urgent: bool | None = None, now: datetime | None = None
) -> Notice:
    """Correct a rejected (or draft) notice and send it to the county desk again; both levels review anew."""
    now = now or timezone.now()
    notice = _lock(notice)
    if notice.state not in (NoticeState.DRAFT, NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY):
        raise NoticeConflict(
            _("Only a draft or a rejected notice can be corrected and resubmitted."), "not_rejected"
        )
    if not (notice.submitted_by_id == actor.pk or can_review(actor, "county")):
        raise PermissionDenied(_("Only the submitter or the county desk corrects a notice."))
    title, text = (title or "").strip(), (text or "").strip()
    if not title or not text:
        raise ValidationError({"text": _("The title and the text are required.")})
    _check_text(notice, title, text)
    notice.title, notice.text = title, text
    if urgent is not None:
        notice.urgent = urgent
    notice.state, notice.version = NoticeState.COUNTY_REVIEW, notice.version + 1
    notice.submitted_by, notice.submitted_at = actor, now
    notice.county_reviewer = notice.city_reviewer = None
    notice.county_reviewed_at = notice.city_reviewed_at = None
    notice.save()
    return notice


# --- push (step) -------------------------------------------------------------------------------------------


def push_step(*, now: datetime | None = None, limit: int = 200) -> int:
    """Claim approved notices whose push time has come (SKIP LOCKED, index notice_push_due), give each its
    personal link, open the pop-up, queue the SMS. Exactly once per notice (module docstring)."""
    now = now or timezone.now()
    ttl = timedelta(days=_setting("NOTICE_LINK_TTL_DAYS", 30))
    remind = _setting("NOTICE_ACK_REMINDER_MINUTES", 120)
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=NoticeState.APPROVED, push_after__lte=now)
            .select_related("person")
            .order_by("push_after", "id")[:limit]
        )
        if not rows:
            return 0
        deliveries = []
        for notice in rows:
            notice.state, notice.pushed_at = NoticeState.PUSHED, now
            notice.token_salt = secrets.token_hex(16)
            notice.token_hash = token_hash(token_for(notice))
            notice.token_expires_at = now + ttl
            notice.remind_at = _later(now, remind, notice.urgent)
            deliveries.append(
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.POPUP,
                    status=NoticeDelivery.Status.SENT,
                    attempts=1,
                    created_at=now,
                    next_attempt_at=now,
                    sent_at=now,
                )
            )
            notice.phone_hash = notice.person.phone_hash if notice.person.phone else ""
            if notice.person.phone:
                deliveries.append(
                    NoticeDelivery(
                        notice=notice, channel=NoticeDelivery.Channel.SMS, created_at=now, next_attempt_at=now
                    )
                )
        Notice.objects.bulk_update(
            rows,
            ["state", "pushed_at", "token_salt", "token_hash", "token_expires_at", "remind_at", "phone_hash"],
        )
        NoticeDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(rows)


# --- SMS delivery (step) -------------------------------------------------------------------------------------


CANCELLED_REASON = "not needed any more: acknowledged or superseded before sending"


def sms_text(delivery: NoticeDelivery) -> str:
    notice = delivery.notice
    sign_name = _setting("NOTICE_SMS_SIGNATURE", "疫情防控")
    link = notice_link(notice)
    if delivery.kind == NoticeDelivery.Kind.REMINDER:
        return f"【{sign_name}】提醒：您尚未确认“{notice.title}”，请打开 {link} 查看并确认，或回复1确认。"
    if delivery.kind == NoticeDelivery.Kind.ANSWER:
        return f"【{sign_name}】您对“{notice.title}”的反馈已有答复，请打开 {link} 查看。"
    return f"【{sign_name}】{notice.title}：{notice.text} 查看详情并确认：{link} 回复1确认收到。"


def deliver_step(*, now: datetime | None = None, limit: int = 100) -> int:
    """Claim due pending SMS deliveries (SKIP LOCKED, index notice_delivery_pending), send them through
    the configured gateway, record the outcome; a failure is retried with backoff (2, 4, 8 … ≤ 60
    minutes, out of the quiet hours unless urgent), failed for good after NOTICE_SMS_MAX_ATTEMPTS or
    when older than NOTICE_SMS_LATE_CUTOFF_MINUTES. At-least-once (module docstring)."""
    from . import sms

    now = now or timezone.now()
    max_attempts = _setting("NOTICE_SMS_MAX_ATTEMPTS", 5)
    cutoff = timedelta(minutes=_setting("NOTICE_SMS_LATE_CUTOFF_MINUTES", 720))
    with transaction.atomic():
        rows = list(
            NoticeDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=NoticeDelivery.Status.PENDING,
                next_attempt_at__lte=now,
                channel=NoticeDelivery.Channel.SMS,
            )
            .select_related("notice", "notice__person")
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return 0
        to_send = []
        for row in rows:
            notice = row.notice
            stale = row.created_at < now - cutoff
            not_needed = row.kind == NoticeDelivery.Kind.REMINDER and notice.state != NoticeState.PUSHED
            if stale or not_needed or not notice.person.phone:
                row.status = NoticeDelivery.Status.FAILED
                row.last_error = (
                    "too late: not sent" if stale else CANCELLED_REASON if not_needed else "no phone"
                )
                continue
            to_send.append(row)
        if to_send:
            messages = [sms.SmsMessage(row.pk, row.notice.person.phone, sms_text(row)) for row in to_send]
            try:
                results = sms.get_backend().send_messages(messages)
            except Exception as exc:
                logger.exception("notice SMS backend failed")
                results = {m.delivery_id: (repr(exc), "") for m in messages}
            for row in to_send:
                error, gateway_id = results.get(row.pk, ("no result from backend", ""))
                row.attempts += 1
                if error is None:
                    row.status, row.sent_at, row.last_error, row.gateway_id = (
                        NoticeDelivery.Status.SENT,
                        now,
                        "",
                        gateway_id,
                    )
                elif row.attempts >= max_attempts:
                    row.status, row.last_error = NoticeDelivery.Status.FAILED, error
                    logger.error("notice SMS %s failed for good: %s", row.pk, error)
                else:
                    row.last_error = error
                    row.next_attempt_at = _later(now, min(2**row.attempts, 60), row.notice.urgent)
        NoticeDelivery.objects.bulk_update(
            rows, ["status", "attempts", "sent_at", "last_error", "next_attempt_at", "gateway_id"]
        )
    return len(rows)


# --- reminder and follow-up (step) ------------------------------------------------------------------------------


def remind_step(*, now: datetime | None = None, limit: int = 500) -> int:
    """(1) Pushed notices not acknowledged by `remind_at`: one reminder (SMS, and the pop-up shows it),
    `escalate_at` set. (2) Reminded and still not acknowledged by `escalate_at`: a follow-up item for the
    village sub-unit. Both claim with SKIP LOCKED; returns how many notices were handled."""
    now = now or timezone.now()
    escalate = _setting("NOTICE_ESCALATE_MINUTES", _setting("NOTICE_ACK_REMINDER_MINUTES", 120))
    handled = 0
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=NoticeState.PUSHED, reminder_sent_at__isnull=True, remind_at__lte=now)
            .select_related("person")
            .order_by("remind_at", "id")[:limit]
        )
        deliveries = []
        for notice in rows:
            notice.reminder_sent_at = now
            notice.escalate_at = _later(now, escalate, notice.urgent)
            deliveries.append(
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.POPUP,
                    kind=NoticeDelivery.Kind.REMINDER,
                    status=NoticeDelivery.Status.SENT,
                    attempts=1,
                    created_at=now,
                    sent_at=now,
                )
            )
            if notice.person.phone:
                deliveries.append(
                    NoticeDelivery(
                        notice=notice,
                        channel=NoticeDelivery.Channel.SMS,
                        kind=NoticeDelivery.Kind.REMINDER,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        Notice.objects.bulk_update(rows, ["reminder_sent_at", "escalate_at"])
        NoticeDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        handled += len(rows)
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                state=NoticeState.PUSHED,
                reminder_sent_at__isnull=False,
                followed_up_at__isnull=True,
                escalate_at__lte=now,
            )
            .order_by("escalate_at", "id")[:limit]
        )
        if rows:
            units = dict(
                Unit.objects.filter(
                    kind=Unit.Kind.SUBUNIT, division_id__in={n.division_id for n in rows}
                ).values_list("division_id", "pk")
            )
            NoticeFollowUp.objects.bulk_create(
                [
                    NoticeFollowUp(
                        notice=n, unit_id=units.get(n.division_id), division_id=n.division_id, created_at=now
                    )
                    for n in rows
                ],
                ignore_conflicts=True,
            )
            for notice in rows:
                notice.followed_up_at = now
            Notice.objects.bulk_update(rows, ["followed_up_at"])
        handled += len(rows)
    return handled


@transaction.atomic
def follow_up_done(
    *, follow_up: NoticeFollowUp, actor, note: str = "", now: datetime | None = None
) -> NoticeFollowUp:
    updated = NoticeFollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
        done_at=now or timezone.now(), done_by=actor, note=(note or "").strip()
    )
    if not updated:
        raise NoticeConflict(_("This follow-up is already done."), "done")
    follow_up.refresh_from_db()
    return follow_up


# --- acknowledgement ---------------------------------------------------------------------------------------------


def notice_acknowledge(*, notice: Notice, channel: str, now: datetime | None = None) -> bool:
    """Pushed → acknowledged, once (conditional UPDATE). False when it already was."""
    now = now or timezone.now()
    updated = Notice.objects.filter(pk=notice.pk, state=NoticeState.PUSHED).update(
        state=NoticeState.ACKNOWLEDGED, acknowledged_at=now, ack_channel=channel
    )
    return updated == 1


def notice_opened(*, notice: Notice, now: datetime | None = None) -> None:
    Notice.objects.filter(pk=notice.pk, first_opened_at__isnull=True).update(
        first_opened_at=now or timezone.now()
    )


ACK_WORDS = {"1", "确认", "收到", "已收到", "是", "好", "ok", "y", "yes"}


def _notices_sent_to(phone: str) -> QuerySet[Notice]:
    from tasks.validation import phone_hash

    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    # Phones are encrypted at rest (tasks/crypto.py): the keyed hash of the number the notice was sent to
    # is the only way to match one.
    return Notice.objects.filter(phone_hash=phone_hash(digits), pushed_at__isnull=False)


def sms_inbound(*, sender: str, text: str, now: datetime | None = None) -> dict:
    """A reply from a phone: an acknowledgement word acknowledges the latest pushed notice sent to that
    number; any other text becomes feedback on it. Returns what was done (for the gateway)."""
    now = now or timezone.now()
    words = (text or "").strip()
    notices = _notices_sent_to(sender)
    if words.lower() in ACK_WORDS:
        notice = notices.filter(state=NoticeState.PUSHED).order_by("-pushed_at", "-id").first()
        if notice is None:
            return {"result": "nothing_to_acknowledge"}
        notice_acknowledge(notice=notice, channel=AckChannel.SMS, now=now)
        return {"result": "acknowledged", "notice": notice.pk}
    notice = (
        notices.filter(state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED])
        .order_by("-pushed_at", "-id")
        .first()
    )
    if notice is None or not words:
        return {"result": "ignored"}
    feedback = feedback_submit(notice=notice, text=words, now=now)
    return {"result": "feedback", "notice": notice.pk, "feedback": feedback.pk}


# --- feedback --------------------------------------------------------------------------------------------------------


@transaction.atomic
def feedback_submit(*, notice: Notice, text: str, now: datetime | None = None) -> NoticeFeedback:
    now = now or timezone.now()
    text = (text or "").strip()[:2000]
    if not text:
        raise ValidationError({"text": _("Write what is wrong with the notice.")})
    if notice.state not in (NoticeState.PUSHED, NoticeState.ACKNOWLEDGED):
        raise NoticeConflict(_("This notice no longer takes feedback."), "closed")
    if NoticeFeedback.objects.filter(notice=notice, state=NoticeFeedback.State.OPEN).count() >= 3:
        raise NoticeConflict(_("Your earlier feedback is still being verified."), "too_many")
    due = now + timedelta(hours=_setting("NOTICE_FEEDBACK_TARGET_HOURS", 24))
    return NoticeFeedback.objects.create(notice=notice, text=text, created_at=now, due_at=due)


@transaction.atomic
def feedback_answer(
    *, feedback: NoticeFeedback, actor, answer: str, corrected_text: str = "", now: datetime | None = None
) -> NoticeFeedback:
    """The desk answers. With `corrected_text` the notice was wrong: a corrected notice (source
    correction) supersedes it and goes through both review levels; the old link keeps showing the
    answer. Without, the desk explains. Either way the answer reaches the person (page + SMS)."""
    now = now or timezone.now()
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write the answer to the person.")})
    if not can_review(actor, "county") and not can_review(actor, "city"):
        raise PermissionDenied(_("Only a county or city duty desk answers feedback."))
    feedback = (
        NoticeFeedback.objects.select_for_update(of=("self",))
        .select_related("notice", "notice__person", "notice__task")
        .get(pk=feedback.pk)
    )
    if feedback.state != NoticeFeedback.State.OPEN:
        raise NoticeConflict(_("This feedback has already been answered."), "answered")
    notice = feedback.notice
    if corrected_text.strip():
        _check_text(notice, notice.title, corrected_text.strip())
        if (
            Notice.objects.filter(
                pk=notice.pk, state__in=[NoticeState.PUSHED, NoticeState.ACKNOWLEDGED]
            ).update(state=NoticeState.SUPERSEDED)
            != 1
        ):
            raise NoticeConflict(_("This notice has already been corrected."), "superseded")
        try:
            Notice.objects.create(
                person_id=notice.person_id,
                task_id=notice.task_id,
                division_id=notice.division_id,
                source=NoticeSource.CORRECTION,
                supersedes=notice,
                category=notice.category,
                title=notice.title,
                text=corrected_text.strip(),
                variables=notice.variables,
                urgent=notice.urgent,
                state=NoticeState.COUNTY_REVIEW,
                created_at=now,
                submitted_by=actor,
                submitted_at=now,
            )
        except IntegrityError as exc:
            raise NoticeConflict(_("This notice has already been corrected."), "superseded") from exc
        feedback.state = NoticeFeedback.State.CORRECTED
    else:
        feedback.state = NoticeFeedback.State.EXPLAINED
    feedback.answer, feedback.answered_by, feedback.answered_at = answer, actor, now
    feedback.save(update_fields=["state", "answer", "answered_by", "answered_at"])
    if notice.person.phone:
        NoticeDelivery.objects.bulk_create(
            [
                NoticeDelivery(
                    notice=notice,
                    channel=NoticeDelivery.Channel.SMS,
                    kind=NoticeDelivery.Kind.ANSWER,
                    created_at=now,
                    next_attempt_at=now,
                )
            ],
            ignore_conflicts=True,
        )
    return feedback


# --- display board and evaluation ---------------------------------------------------------------------------------


def board(*, now: datetime | None = None) -> dict:
    """The public display board: active aggregate messages and, per county, how many notices went out
    in the last 24 hours and how many were acknowledged. No names, no numbers of a person."""
    now = now or timezone.now()
    messages = list(
        BoardMessage.objects.filter(published_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("division")[:50]
    )
    counts = list(
        Notice.objects.filter(pushed_at__gte=now - timedelta(hours=24), pushed_at__lte=now)
        .annotate(county=Substr("division_id", 1, 6))
        .values("county")
        .annotate(pushed=Count("id"), acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)))
        .order_by("county")
    )
    names = dict(
        Division.objects.filter(code__in=[row["county"] for row in counts]).values_list("code", "name")
    )
    for row in counts:
        row["name"] = names.get(row["county"], row["county"])
    return {"messages": messages, "counts": counts}


def _minutes(value) -> float | None:
    return round(value.total_seconds() / 60, 1) if value is not None else None


def evaluation(
    *, user, start: datetime, end: datetime, division: str | None = None, level: int = 6
) -> list[dict]:
    """Figures per division (county by default; level = code length 4/6/9) for notices pushed in
    [start, end): accuracy (1 − share corrected after feedback), timeliness (approval → push, share on
    time, push → acknowledgement), acknowledgement rate, feedback answered within the target."""
    queryset = notices_visible_to(user).filter(pushed_at__gte=start, pushed_at__lt=end)
    if division:
        queryset = queryset.filter(division__code__startswith=division)
    minutes = lambda a, b: ExpressionWrapper(F(a) - F(b), output_field=DurationField())  # noqa: E731
    rows = list(
        queryset.annotate(area=Substr("division_id", 1, level))
        .values("area")
        .annotate(
            pushed=Count("id"),
            acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
            on_time=Count("id", filter=Q(pushed_at__lte=F("push_due"))),
            corrected=Count("id", filter=Q(superseded_by__source=NoticeSource.CORRECTION)),
            approval_to_push=Avg(minutes("pushed_at", "approved_at")),
            push_to_ack=Avg(minutes("acknowledged_at", "pushed_at"), filter=Q(acknowledged_at__isnull=False)),
            followed_up=Count("id", filter=Q(followed_up_at__isnull=False)),
        )
        .order_by("area")
    )
    feedback = {
        row["area"]: row
        for row in NoticeFeedback.objects.filter(notice__in=queryset.values("pk"))
        .annotate(area=Substr("notice__division_id", 1, level))
        .values("area")
        .annotate(
            total=Count("id"),
            in_time=Count("id", filter=Q(answered_at__isnull=False, answered_at__lte=F("due_at"))),
        )
    }
    names = dict(Division.objects.filter(code__in=[row["area"] for row in rows]).values_list("code", "name"))
    result = []
    for row in rows:
        pushed = row["pushed"] or 1
        fb = feedback.get(row["area"], {"total": 0, "in_time": 0})
        result.append(
            {
                "division": row["area"],
                "name": names.get(row["area"], row["area"]),
                "pushed": row["pushed"],
                "acknowledged": row["acknowledged"],
                "acknowledgement_rate": round(row["acknowledged"] / pushed, 3),
                "corrected": row["corrected"],
                "accuracy": round(1 - row["corrected"] / pushed, 3),
                "pushed_on_time_rate": round(row["on_time"] / pushed, 3),
                "approval_to_push_minutes": _minutes(row["approval_to_push"]),
                "push_to_ack_minutes": _minutes(row["push_to_ack"]),
                "followed_up": row["followed_up"],
                "feedback": fb["total"],
                "feedback_in_time": fb["in_time"],
                "feedback_in_time_rate": round(fb["in_time"] / fb["total"], 3) if fb["total"] else None,
            }
        )
    return result
