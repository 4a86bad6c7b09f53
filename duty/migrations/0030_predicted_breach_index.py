"""The partial index of the predicted breaches (duty/services/predictions.py): the open tasks of a
territory by their next running deadline. Written out here, not imported: a migration stays as it was.
Built concurrently, so a large task table keeps taking writes meanwhile."""

from django.db import migrations

NEXT_DUE = (
    "LEAST(CASE WHEN dispatched_at IS NULL THEN dispatch_due END, "
    "CASE WHEN radius_limited_at IS NULL THEN radius_due END, "
    "CASE WHEN traced_at IS NULL THEN trace_due END, "
    "CASE WHEN rework_done_at IS NULL THEN rework_due END, "
    "CASE WHEN verified_at IS NULL THEN verify_due END, "
    "CASE WHEN registered_at IS NULL THEN register_due END)"
)
ACTIVE = "('new','dispatched','received','radius_limited','traced','submitted','returned','transferring')"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("duty", "0020_roster_handover"),
        ("tasks", "0150_notification_kinds"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS duty_task_next_deadline ON tasks_tracingtask "
            f"(division_id varchar_pattern_ops, ({NEXT_DUE})) WHERE status IN {ACTIVE}",
            "DROP INDEX CONCURRENTLY IF EXISTS duty_task_next_deadline",
        ),
    ]
