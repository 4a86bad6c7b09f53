"""The sweep's clock moments move to a narrow table kept by statement triggers (PeriodClock): the period
table loses its only index on a column the sweep changes at every edge, so the sweep's period update is
HOT, and the period table leaves room on each page for the new row versions (fillfactor)."""

import django.db.models.deletion
from django.db import migrations, models

PERIOD = "monitoring_monitoringperiod"
CLOCK = "monitoring_periodclock"
# The moment to follow: the period's next_due_at while it is running or escalated.
MOMENT = "CASE WHEN n.state IN ('running', 'escalated') THEN n.next_due_at END"

TRIGGERS = f"""
CREATE FUNCTION monitoring_period_clock_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CLOCK} (period_id, next_due_at)
    SELECT n.id, {MOMENT} FROM new_rows n
    ON CONFLICT (period_id) DO UPDATE SET next_due_at = EXCLUDED.next_due_at;
    RETURN NULL;
END $$;

CREATE FUNCTION monitoring_period_clock_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only the rows whose moment changed: most updates of a period leave its clock alone.
    UPDATE {CLOCK} c SET next_due_at = {MOMENT}
    FROM new_rows n
    WHERE c.period_id = n.id AND c.next_due_at IS DISTINCT FROM {MOMENT};
    RETURN NULL;
END $$;

CREATE FUNCTION monitoring_period_clock_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {CLOCK} c USING old_rows o WHERE c.period_id = o.id;
    RETURN NULL;
END $$;

CREATE TRIGGER period_clock_insert AFTER INSERT ON {PERIOD}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION monitoring_period_clock_insert();
CREATE TRIGGER period_clock_update AFTER UPDATE ON {PERIOD}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION monitoring_period_clock_update();
CREATE TRIGGER period_clock_delete AFTER DELETE ON {PERIOD}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION monitoring_period_clock_delete();

INSERT INTO {CLOCK} (period_id, next_due_at)
SELECT n.id, {MOMENT} FROM {PERIOD} n
ON CONFLICT (period_id) DO NOTHING;

-- Room on every page for a new version of each row: the sweep rewrites every due period per edge.
ALTER TABLE {PERIOD} SET (fillfactor = 50);
"""

DROP_TRIGGERS = f"""
ALTER TABLE {PERIOD} RESET (fillfactor);
DROP TRIGGER IF EXISTS period_clock_insert ON {PERIOD};
DROP TRIGGER IF EXISTS period_clock_update ON {PERIOD};
DROP TRIGGER IF EXISTS period_clock_delete ON {PERIOD};
DROP FUNCTION IF EXISTS monitoring_period_clock_insert();
DROP FUNCTION IF EXISTS monitoring_period_clock_update();
DROP FUNCTION IF EXISTS monitoring_period_clock_delete();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0050_period_applied_disposals"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeriodClock",
            fields=[
                (
                    "period",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="monitoring.monitoringperiod",
                    ),
                ),
                ("next_due_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RemoveIndex(
            model_name="monitoringperiod",
            name="period_next_due",
        ),
        migrations.AddIndex(
            model_name="periodclock",
            index=models.Index(
                condition=models.Q(("next_due_at__isnull", False)),
                fields=["next_due_at"],
                name="period_clock_due",
            ),
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
