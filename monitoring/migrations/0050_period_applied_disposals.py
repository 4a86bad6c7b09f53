import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0040_checkin_sms"),
    ]

    operations = [
        migrations.AddField(
            model_name="monitoringperiod",
            name="applied_disposals",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(), blank=True, default=list, editable=False, size=None
            ),
        ),
        # Set-based writers (seeds, benchmarks) that insert periods without naming the column.
        migrations.RunSQL(
            "ALTER TABLE monitoring_monitoringperiod ALTER COLUMN applied_disposals SET DEFAULT '{}'",
            migrations.RunSQL.noop,
        ),
    ]
