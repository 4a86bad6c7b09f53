# Issue 9: the ID numbers and phones inside report snapshots are encrypted at rest (reports.models.SnapshotField).

import reports.models
from django.db import migrations


def encrypt_existing(apps, schema_editor):
    """Re-save every stored snapshot through SnapshotField: plaintext identity values become envelopes."""
    from tasks.crypto import rotate_report_snapshots

    rotate_report_snapshots()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_rollup_triggers_and_indexes"),
        ("tasks", "0011_purge_run_field_counts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reportversion",
            name="data",
            field=reports.models.SnapshotField(),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
