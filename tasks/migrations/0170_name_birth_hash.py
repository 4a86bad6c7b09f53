"""The blind feature of "same name and birth date" (docs/people.md): a keyed hash of the normalised name
and the birth date read from the document, on persons and leads. A database default: the intake and the
bulk loaders insert in SQL. Filled for the existing rows by the next migration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0150_notification_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="name_birth_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="person",
            name="name_birth_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
    ]
