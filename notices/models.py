"""Notices to people (弹窗): templates per risk category, the notices generated from them, their
two-level review (county desk, then city desk), the push to the person (pop-up page, SMS), the
acknowledgement, one reminder, the follow-up item for the village sub-unit, and feedback / appeal.

The tables were created by the `reviews` app and keep its names (`db_table`): the models moved to this
app without touching the data. The rules (variables, rendering, validation, batch rules) are in
notices/rules.py, the writes in notices/services/, the SMS flow in notices/delivery.py.
docs/notices.md explains the whole flow.

Deadlines live on the row (STYLE.md habit 1) and each sweep has its own partial index:

* `push_after` (state approved)           → notice_push_due       (push step)
* `remind_at`  (pushed, not reminded)      → notice_remind_due     (remind step)
* `escalate_at` (pushed, reminded, no follow-up yet) → notice_escalate_due (remind step)
* NoticeDelivery `next_attempt_at` (pending) → notice_delivery_pending (SMS delivery step)
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AckChannel",
    "BoardMessage",
    "Notice",
    "NoticeCategory",
    "NoticeDelivery",
    "NoticeFeedback",
    "NoticeFollowUp",
    "NoticeSource",
    "NoticeState",
    "NoticeTemplate",
]


class NoticeCategory(models.TextChoices):
    CLOSE_CONTACT = "close_contact", _("close contact")
    HIGH_RISK_RETURNEE = "high_risk_returnee", _("returnee from a high-risk area")
    RED_CODE = "red_code", _("red health code")
    YELLOW_CODE = "yellow_code", _("yellow health code")
    HEALTH_MONITORING = "health_monitoring", _("health monitoring")


class NoticeTemplate(models.Model):
    """The zh-hans text of one risk category, with {variables} (notices/rules.py: VARIABLES).
    Data, not msgids: administrators edit it (Django admin, /notices/templates/). A template can never
    reference the ID number, the phone or an address: `clean()` refuses it."""

    category = models.CharField(
        _("risk category"), max_length=30, choices=NoticeCategory.choices, unique=True
    )
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    urgent = models.BooleanField(_("urgent by default"), default=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        db_table = "reviews_noticetemplate"
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.title}"

    def clean(self):
        from .rules import validate_template_text

        validate_template_text(self.title, field="title")
        validate_template_text(self.body, field="body")


class NoticeState(models.TextChoices):
    DRAFT = "draft", _("draft")
    COUNTY_REVIEW = "county_review", _("waiting for the county desk")
    CITY_REVIEW = "city_review", _("waiting for the city desk")
    REJECTED_COUNTY = "rejected_county", _("rejected by the county desk")
    REJECTED_CITY = "rejected_city", _("rejected by the city desk")
    APPROVED = "approved", _("approved, waiting to be pushed")
    PUSHED = "pushed", _("pushed")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    SUPERSEDED = "superseded", _("superseded by a corrected notice")


class NoticeSource(models.TextChoices):
    DISPOSAL = "disposal", _("disposal proposal")
    BATCH_RULE = "batch_rule", _("batch rule")
    CORRECTION = "correction", _("correction after feedback")


class AckChannel(models.TextChoices):
    POPUP = "popup", _("pop-up page")
    SMS = "sms", _("SMS reply")


class Notice(models.Model):
    SCOPE_PATH = "division__code"

    person = models.ForeignKey(
        "tasks.Person", verbose_name=_("person"), on_delete=models.PROTECT, related_name="notices"
    )
    task = models.ForeignKey(
        "tasks.TracingTask",
        verbose_name=_("task"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notices",
    )
    # Where the person is (the task's village): decides which desks review it and which sub-unit follows up.
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("source"), max_length=20, choices=NoticeSource.choices)
    proposal = models.ForeignKey(
        "reviews.DisposalProposal",
        verbose_name=_("disposal proposal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notices",
    )
    rule = models.CharField(_("batch rule"), max_length=60, blank=True)
    rule_key = models.CharField(
        max_length=120, blank=True
    )  # e.g. "returnees:4201:2026-11-20": one notice per person and run key
    supersedes = models.OneToOneField(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    category = models.CharField(_("risk category"), max_length=30, choices=NoticeCategory.choices)
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"))
    # The values the text was rendered from (never the ID number or an address: rules.VARIABLES).
    variables = models.JSONField(default=dict, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    state = models.CharField(
        _("state"), max_length=20, choices=NoticeState.choices, default=NoticeState.DRAFT
    )
    version = models.PositiveIntegerField(default=1)

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    county_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("county reviewer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    county_reviewed_at = models.DateTimeField(_("county reviewed at"), null=True, blank=True)
    city_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("city reviewer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    city_reviewed_at = models.DateTimeField(_("city reviewed at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rejected by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    rejections = models.PositiveSmallIntegerField(default=0)

    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    # Earliest push (approval; the end of the quiet hours for a normal notice approved at night) and the
    # push deadline (approval + 2 h / 30 min urgent, the clock paused over the quiet hours).
    push_after = models.DateTimeField(_("push from"), null=True, blank=True)
    push_due = models.DateTimeField(_("push due"), null=True, blank=True)
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)

    # The personal link: /n/<token>/. Only a SHA-256 of the token is stored; the token itself is derived
    # from `token_salt` with settings.NOTICE_TOKEN_KEY (not in the database), so the SMS step can put
    # it in the message without the database ever holding it.
    token_salt = models.CharField(max_length=32, blank=True)
    token_hash = models.CharField(max_length=64, blank=True)
    token_expires_at = models.DateTimeField(_("link expires at"), null=True, blank=True)
    # Keyed hash of the number the SMS went to (tasks.validation.phone_hash), set at push: a reply from
    # that number is matched to this notice (notices/services/person.py sms_inbound).
    phone_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    first_opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)

    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    ack_channel = models.CharField(
        _("acknowledged by"), max_length=10, choices=AckChannel.choices, blank=True
    )
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    escalate_at = models.DateTimeField(_("follow-up at"), null=True, blank=True)
    followed_up_at = models.DateTimeField(_("follow-up created at"), null=True, blank=True)

    class Meta:
        db_table = "reviews_notice"
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Generation is idempotent: one live notice per disposal proposal, one per person and batch run.
            models.UniqueConstraint(
                fields=["proposal"], condition=models.Q(source="disposal"), name="one_notice_per_proposal"
            ),
            models.UniqueConstraint(
                fields=["person", "rule_key"],
                condition=models.Q(source="batch_rule"),
                name="one_notice_per_person_rule_run",
            ),
            models.UniqueConstraint(
                fields=["token_hash"], condition=~models.Q(token_hash=""), name="notice_token_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=["approved", "pushed", "acknowledged"])
                | models.Q(
                    county_reviewer__isnull=False,
                    city_reviewer__isnull=False,
                    approved_at__isnull=False,
                    push_after__isnull=False,
                ),
                name="notice_approved_has_both_reviewers",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=["rejected_county", "rejected_city"])
                | ~models.Q(rejection_reason=""),
                name="notice_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=["pushed", "acknowledged"])
                | models.Q(pushed_at__isnull=False, token_hash__gt=""),
                name="notice_pushed_has_link",
            ),
        ]
        indexes = [
            # SMS replies: the pushed notices sent to a number.
            models.Index(fields=["phone_hash"], name="notice_phone_hash", condition=~models.Q(phone_hash="")),
            # push step (notices_push): approved notices by earliest push time.
            models.Index(fields=["push_after"], name="notice_push_due", condition=models.Q(state="approved")),
            # remind step (notices_remind): pushed, unacknowledged, not yet reminded.
            models.Index(
                fields=["remind_at"],
                name="notice_remind_due",
                condition=models.Q(state="pushed", reminder_sent_at__isnull=True),
            ),
            # remind step: reminded, still unacknowledged, no follow-up item yet.
            models.Index(
                fields=["escalate_at"],
                name="notice_escalate_due",
                condition=models.Q(
                    state="pushed", reminder_sent_at__isnull=False, followed_up_at__isnull=True
                ),
            ),
            # review queues and lists by territory.
            models.Index(
                fields=["division", "state"],
                name="notice_division_state",
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
            ),
            models.Index(fields=["person", "created_at"], name="notice_person"),
        ]

    def __str__(self) -> str:
        return f"N{self.pk} {self.category} ({self.state})"

    @property
    def is_rejected(self) -> bool:
        return self.state in (NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY)


class NoticeDelivery(models.Model):
    """One attempt series of one notice on one channel: the pop-up (the page is live from the push) or
    SMS (sent by the delivery step, claimed with SKIP LOCKED, retried with backoff). `kind` tells the
    first push from the reminder."""

    class Channel(models.TextChoices):
        POPUP = "popup", _("pop-up page")
        SMS = "sms", _("SMS")

    class Kind(models.TextChoices):
        PUSH = "push", _("push")
        REMINDER = "reminder", _("reminder")
        ANSWER = "answer", _("answer to feedback")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PUSH)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gateway_id = models.CharField(max_length=100, blank=True)

    class Meta:
        db_table = "reviews_noticedelivery"
        verbose_name = _("notice delivery")
        verbose_name_plural = _("notice deliveries")
        ordering = ["id"]
        constraints = [
            # A second push or remind run cannot queue the same message twice.
            models.UniqueConstraint(
                fields=["notice", "channel", "kind"], name="one_notice_delivery_per_channel_kind"
            ),
        ]
        indexes = [
            # SMS delivery step (notices_deliver): pending rows only.
            models.Index(
                fields=["next_attempt_at"],
                name="notice_delivery_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id} {self.channel}/{self.kind} {self.status}"


class NoticeFeedback(models.Model):
    """The person says the notice is wrong (or asks). The desk verifies, then corrects (a new notice
    that supersedes this one, reviewed again) or explains; the answer shows on the person's page."""

    SCOPE_PATH = "notice__division__code"

    class State(models.TextChoices):
        OPEN = "open", _("open")
        CORRECTED = "corrected", _("corrected")
        EXPLAINED = "explained", _("explained")

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="feedback")
    text = models.TextField(_("feedback"))
    created_at = models.DateTimeField(_("received at"), default=timezone.now)
    due_at = models.DateTimeField(_("answer due"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        db_table = "reviews_noticefeedback"
        verbose_name = _("notice feedback")
        verbose_name_plural = _("notice feedback")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state="open")
                | (~models.Q(answer="") & models.Q(answered_at__isnull=False)),
                name="notice_feedback_answered_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="notice_feedback_open", condition=models.Q(state="open"))
        ]

    def __str__(self) -> str:
        return f"F{self.pk} on N{self.notice_id} ({self.state})"


class NoticeFollowUp(models.Model):
    """A notice still not acknowledged after the reminder: the village sub-unit visits or calls."""

    SCOPE_PATH = "division__code"

    notice = models.OneToOneField(Notice, on_delete=models.PROTECT, related_name="follow_up")
    unit = models.ForeignKey(
        "tasks.Unit",
        verbose_name=_("sub-unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        db_table = "reviews_noticefollowup"
        verbose_name = _("notice follow-up")
        verbose_name_plural = _("notice follow-ups")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["division"],
                name="notice_followup_open",
                opclasses=["varchar_pattern_ops"],
                condition=models.Q(done_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"follow-up of N{self.notice_id}"


class BoardMessage(models.Model):
    """A message of the public display board (/board/): aggregate and non-personal only (validated:
    no ID numbers, no phone numbers; the text is about areas, never about a person)."""

    SCOPE_PATH = "division__code"

    division = models.ForeignKey(
        "tasks.Division", verbose_name=_("area"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("text"))
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rule_key = models.CharField(max_length=120, blank=True)

    class Meta:
        db_table = "reviews_boardmessage"
        verbose_name = _("display board message")
        verbose_name_plural = _("display board messages")
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_key"], condition=~models.Q(rule_key=""), name="one_board_message_per_rule_run"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]

    def clean(self):
        from .rules import validate_board_text

        validate_board_text(self.text)
