"""The notice models moved to the `notices` app (notices/migrations/0001_initial.py takes them over).
State only: the tables, their rows, constraints and indexes stay exactly as they are."""

from django.db import migrations

MOVED = ["NoticeDelivery", "NoticeFeedback", "NoticeFollowUp", "Notice", "NoticeTemplate", "BoardMessage"]


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0004_notice_phone_hash"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in MOVED],
            database_operations=[],
        ),
    ]
