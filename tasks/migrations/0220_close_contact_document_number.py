"""A close contact's number is a document number of any type (passport, permits, …), up to 30
characters like a person's and a lead's; the column is the encrypted text it was (no change in the
database)."""

from django.db import migrations

import tasks.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0160_open_task_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="closecontact",
            name="id_number",
            field=tasks.crypto.EncryptedCharField(blank=True, max_length=30, verbose_name="document number"),
        ),
    ]
