from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0019_purge_run_notices"),
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
