"""The notice models, taken over from the `reviews` app (reviews/migrations/0005): state only, on the
existing tables (`db_table` keeps their names), so no row, constraint or index is touched. The content
types are renamed to this app so that permissions granted on notices stay granted."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


MODELS = ["notice", "noticedelivery", "noticefeedback", "noticefollowup", "noticetemplate", "boardmessage"]


def content_types_to_notices(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label="notices").values_list("model", flat=True))
    ContentType.objects.filter(app_label="reviews", model__in=[m for m in MODELS if m not in taken]).update(
        app_label="notices"
    )


def content_types_to_reviews(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="notices", model__in=MODELS).update(app_label="reviews")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("reviews", "0005_notices_move_to_their_app"),
        ("tasks", "0019_purge_run_notices"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("disposal", "disposal proposal"),
                                    ("batch_rule", "batch rule"),
                                    ("correction", "correction after feedback"),
                                ],
                                max_length=20,
                                verbose_name="source",
                            ),
                        ),
                        ("rule", models.CharField(blank=True, max_length=60, verbose_name="batch rule")),
                        ("rule_key", models.CharField(blank=True, max_length=120)),
                        (
                            "category",
                            models.CharField(
                                choices=[
                                    ("close_contact", "close contact"),
                                    ("high_risk_returnee", "returnee from a high-risk area"),
                                    ("red_code", "red health code"),
                                    ("yellow_code", "yellow health code"),
                                    ("health_monitoring", "health monitoring"),
                                ],
                                max_length=30,
                                verbose_name="risk category",
                            ),
                        ),
                        ("title", models.CharField(max_length=100, verbose_name="title")),
                        ("text", models.TextField(verbose_name="text")),
                        ("variables", models.JSONField(blank=True, default=dict)),
                        ("urgent", models.BooleanField(default=False, verbose_name="urgent")),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("draft", "draft"),
                                    ("county_review", "waiting for the county desk"),
                                    ("city_review", "waiting for the city desk"),
                                    ("rejected_county", "rejected by the county desk"),
                                    ("rejected_city", "rejected by the city desk"),
                                    ("approved", "approved, waiting to be pushed"),
                                    ("pushed", "pushed"),
                                    ("acknowledged", "acknowledged"),
                                    ("superseded", "superseded by a corrected notice"),
                                ],
                                default="draft",
                                max_length=20,
                                verbose_name="state",
                            ),
                        ),
                        ("version", models.PositiveIntegerField(default=1)),
                        (
                            "created_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="created at"
                            ),
                        ),
                        (
                            "submitted_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="submitted at"),
                        ),
                        (
                            "county_reviewed_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="county reviewed at"),
                        ),
                        (
                            "city_reviewed_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="city reviewed at"),
                        ),
                        (
                            "rejection_reason",
                            models.TextField(blank=True, verbose_name="reason for rejection"),
                        ),
                        (
                            "rejected_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="rejected at"),
                        ),
                        ("rejections", models.PositiveSmallIntegerField(default=0)),
                        (
                            "approved_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="approved at"),
                        ),
                        ("push_after", models.DateTimeField(blank=True, null=True, verbose_name="push from")),
                        ("push_due", models.DateTimeField(blank=True, null=True, verbose_name="push due")),
                        ("pushed_at", models.DateTimeField(blank=True, null=True, verbose_name="pushed at")),
                        ("token_salt", models.CharField(blank=True, max_length=32)),
                        ("token_hash", models.CharField(blank=True, max_length=64)),
                        (
                            "token_expires_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="link expires at"),
                        ),
                        (
                            "phone_hash",
                            models.CharField(blank=True, db_default="", default="", max_length=64),
                        ),
                        (
                            "first_opened_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="first opened at"),
                        ),
                        (
                            "acknowledged_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="acknowledged at"),
                        ),
                        (
                            "ack_channel",
                            models.CharField(
                                blank=True,
                                choices=[("popup", "pop-up page"), ("sms", "SMS reply")],
                                max_length=10,
                                verbose_name="acknowledged by",
                            ),
                        ),
                        ("remind_at", models.DateTimeField(blank=True, null=True, verbose_name="remind at")),
                        (
                            "reminder_sent_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="reminder sent at"),
                        ),
                        (
                            "escalate_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="follow-up at"),
                        ),
                        (
                            "followed_up_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="follow-up created at"),
                        ),
                        (
                            "city_reviewer",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="city reviewer",
                            ),
                        ),
                        (
                            "county_reviewer",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="county reviewer",
                            ),
                        ),
                        (
                            "division",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tasks.division",
                                verbose_name="division",
                            ),
                        ),
                        (
                            "person",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="notices",
                                to="tasks.person",
                                verbose_name="person",
                            ),
                        ),
                        (
                            "proposal",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="notices",
                                to="reviews.disposalproposal",
                                verbose_name="disposal proposal",
                            ),
                        ),
                        (
                            "rejected_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="rejected by",
                            ),
                        ),
                        (
                            "submitted_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="submitted by",
                            ),
                        ),
                        (
                            "supersedes",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="superseded_by",
                                to="notices.notice",
                                verbose_name="corrects",
                            ),
                        ),
                        (
                            "task",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="notices",
                                to="tasks.tracingtask",
                                verbose_name="task",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice",
                        "verbose_name_plural": "notices",
                        "db_table": "reviews_notice",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                choices=[("popup", "pop-up page"), ("sms", "SMS")],
                                max_length=10,
                                verbose_name="channel",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("push", "push"),
                                    ("reminder", "reminder"),
                                    ("answer", "answer to feedback"),
                                ],
                                default="push",
                                max_length=10,
                                verbose_name="kind",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "pending"), ("sent", "sent"), ("failed", "failed")],
                                default="pending",
                                max_length=10,
                                verbose_name="status",
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("gateway_id", models.CharField(blank=True, max_length=100)),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="notices.notice",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice delivery",
                        "verbose_name_plural": "notice deliveries",
                        "db_table": "reviews_noticedelivery",
                        "ordering": ["id"],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeFeedback",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("text", models.TextField(verbose_name="feedback")),
                        (
                            "created_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="received at"
                            ),
                        ),
                        ("due_at", models.DateTimeField(verbose_name="answer due")),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("open", "open"),
                                    ("corrected", "corrected"),
                                    ("explained", "explained"),
                                ],
                                default="open",
                                max_length=10,
                                verbose_name="state",
                            ),
                        ),
                        ("answer", models.TextField(blank=True, verbose_name="answer")),
                        (
                            "answered_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="answered at"),
                        ),
                        (
                            "answered_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="answered by",
                            ),
                        ),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="feedback",
                                to="notices.notice",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice feedback",
                        "verbose_name_plural": "notice feedback",
                        "db_table": "reviews_noticefeedback",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeFollowUp",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="created at"
                            ),
                        ),
                        ("done_at", models.DateTimeField(blank=True, null=True, verbose_name="done at")),
                        ("note", models.TextField(blank=True, verbose_name="note")),
                        (
                            "division",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tasks.division",
                                verbose_name="division",
                            ),
                        ),
                        (
                            "done_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="done by",
                            ),
                        ),
                        (
                            "notice",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="follow_up",
                                to="notices.notice",
                            ),
                        ),
                        (
                            "unit",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tasks.unit",
                                verbose_name="sub-unit",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice follow-up",
                        "verbose_name_plural": "notice follow-ups",
                        "db_table": "reviews_noticefollowup",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeTemplate",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "category",
                            models.CharField(
                                choices=[
                                    ("close_contact", "close contact"),
                                    ("high_risk_returnee", "returnee from a high-risk area"),
                                    ("red_code", "red health code"),
                                    ("yellow_code", "yellow health code"),
                                    ("health_monitoring", "health monitoring"),
                                ],
                                max_length=30,
                                unique=True,
                                verbose_name="risk category",
                            ),
                        ),
                        ("title", models.CharField(max_length=100, verbose_name="title")),
                        ("body", models.TextField(verbose_name="text")),
                        ("urgent", models.BooleanField(default=False, verbose_name="urgent by default")),
                        (
                            "updated_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="updated at"
                            ),
                        ),
                        (
                            "updated_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="updated by",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice template",
                        "verbose_name_plural": "notice templates",
                        "db_table": "reviews_noticetemplate",
                        "ordering": ["category"],
                    },
                ),
                migrations.CreateModel(
                    name="BoardMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("text", models.TextField(verbose_name="text")),
                        (
                            "published_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="published at"
                            ),
                        ),
                        (
                            "expires_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="expires at"),
                        ),
                        ("rule_key", models.CharField(blank=True, max_length=120)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="created by",
                            ),
                        ),
                        (
                            "division",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tasks.division",
                                verbose_name="area",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "display board message",
                        "verbose_name_plural": "display board messages",
                        "db_table": "reviews_boardmessage",
                        "ordering": ["-published_at", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("rule_key", ""), _negated=True),
                                fields=("rule_key",),
                                name="one_board_message_per_rule_run",
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(
                        condition=models.Q(("phone_hash", ""), _negated=True),
                        fields=["phone_hash"],
                        name="notice_phone_hash",
                    ),
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(
                        condition=models.Q(("state", "approved")),
                        fields=["push_after"],
                        name="notice_push_due",
                    ),
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(
                        condition=models.Q(("reminder_sent_at__isnull", True), ("state", "pushed")),
                        fields=["remind_at"],
                        name="notice_remind_due",
                    ),
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(
                        condition=models.Q(
                            ("followed_up_at__isnull", True),
                            ("reminder_sent_at__isnull", False),
                            ("state", "pushed"),
                        ),
                        fields=["escalate_at"],
                        name="notice_escalate_due",
                    ),
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(
                        fields=["division", "state"],
                        name="notice_division_state",
                        opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
                    ),
                ),
                migrations.AddIndex(
                    model_name="notice",
                    index=models.Index(fields=["person", "created_at"], name="notice_person"),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("source", "disposal")),
                        fields=("proposal",),
                        name="one_notice_per_proposal",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("source", "batch_rule")),
                        fields=("person", "rule_key"),
                        name="one_notice_per_person_rule_run",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("token_hash", ""), _negated=True),
                        fields=("token_hash",),
                        name="notice_token_unique",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("state__in", ["approved", "pushed", "acknowledged"]), _negated=True),
                            models.Q(
                                ("approved_at__isnull", False),
                                ("city_reviewer__isnull", False),
                                ("county_reviewer__isnull", False),
                                ("push_after__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="notice_approved_has_both_reviewers",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("state__in", ["rejected_county", "rejected_city"]), _negated=True),
                            models.Q(("rejection_reason", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="notice_rejection_has_reason",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="notice",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("state__in", ["pushed", "acknowledged"]), _negated=True),
                            models.Q(("pushed_at__isnull", False), ("token_hash__gt", "")),
                            _connector="OR",
                        ),
                        name="notice_pushed_has_link",
                    ),
                ),
                migrations.AddIndex(
                    model_name="noticedelivery",
                    index=models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["next_attempt_at"],
                        name="notice_delivery_pending",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="noticedelivery",
                    constraint=models.UniqueConstraint(
                        fields=("notice", "channel", "kind"), name="one_notice_delivery_per_channel_kind"
                    ),
                ),
                migrations.AddIndex(
                    model_name="noticefeedback",
                    index=models.Index(
                        condition=models.Q(("state", "open")), fields=["due_at"], name="notice_feedback_open"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="noticefeedback",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("state", "open"),
                            models.Q(models.Q(("answer", ""), _negated=True), ("answered_at__isnull", False)),
                            _connector="OR",
                        ),
                        name="notice_feedback_answered_complete",
                    ),
                ),
                migrations.AddIndex(
                    model_name="noticefollowup",
                    index=models.Index(
                        condition=models.Q(("done_at__isnull", True)),
                        fields=["division"],
                        name="notice_followup_open",
                        opclasses=["varchar_pattern_ops"],
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(content_types_to_notices, content_types_to_reviews),
            ],
        ),
    ]
