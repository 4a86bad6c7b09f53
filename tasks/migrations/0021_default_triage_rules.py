from django.db import migrations

# The default triage table (docs/worktypes.md): the first matching rule decides a lead's kind.
DEFAULT_RULES = (
    (10, "", 1, "investigation", "anything at P1: a close contact of a confirmed case, a positive result"),
    (20, "", 2, "investigation", "anything at P2: a red code"),
    (30, "close_contact", None, "investigation", "close contact"),
    (40, "red_code", None, "investigation", "red code"),
    (50, "big_data", None, "verification", "big-data hit"),
    (60, "yellow_code", None, "verification", "yellow code"),
    (70, "community", None, "verification", "community check"),
    (80, "hotline", None, "verification", "hotline / public tip"),
    (90, "manual", None, "verification", "manual entry"),
    (100, "returnee", None, "registration", "port-of-entry returnee"),
)


def seed(apps, schema_editor):
    TriageRule = apps.get_model("tasks", "TriageRule")
    if TriageRule.objects.exists():
        return
    TriageRule.objects.bulk_create(
        TriageRule(position=position, source=source, priority=priority, kind=kind, note=note)
        for position, source, priority, kind, note in DEFAULT_RULES
    )


class Migration(migrations.Migration):
    dependencies = [("tasks", "0020_work_types")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
