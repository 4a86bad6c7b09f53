from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0021_default_triage_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="purgerun",
            name="counts",
            field=models.JSONField(
                blank=True, db_default={}, default=dict, verbose_name="counts per kind of data"
            ),
        ),
    ]
