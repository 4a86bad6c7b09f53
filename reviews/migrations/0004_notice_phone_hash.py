"""SMS replies are matched to the notice sent to the number (Notice.phone_hash) instead of to persons,
whose phone index the intake no longer maintains (tasks 0017). Notices already pushed take the hash
of their person's phone, the number their SMS went to."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0003_notices"),
        ("tasks", "0017_person_hash_indexes_dropped"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="phone_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddIndex(
            model_name="notice",
            index=models.Index(
                condition=models.Q(("phone_hash", ""), _negated=True),
                fields=["phone_hash"],
                name="notice_phone_hash",
            ),
        ),
        migrations.RunSQL(
            "UPDATE reviews_notice n SET phone_hash = p.phone_hash FROM tasks_person p "
            "WHERE p.id = n.person_id AND n.pushed_at IS NOT NULL AND p.phone_hash <> ''",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
