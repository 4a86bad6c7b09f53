"""The clock rows carry their period's village, and the sweep's due index is ordered by it: a step
claims the due periods of one moment village by village, so that the sub-unit's members, its leader and
the county's desk hear of a step's misses in one notification per village or county, not one per person
(monitoring/sweep.py)."""

from django.db import migrations, models

PERIOD = "monitoring_monitoringperiod"
CLOCK = "monitoring_periodclock"
MOMENT = "CASE WHEN n.state IN ('running', 'escalated') THEN n.next_due_at END"

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION monitoring_period_clock_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CLOCK} (period_id, next_due_at, division_code)
    SELECT n.id, {MOMENT}, n.division_id FROM new_rows n
    ON CONFLICT (period_id) DO UPDATE
        SET next_due_at = EXCLUDED.next_due_at, division_code = EXCLUDED.division_code;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION monitoring_period_clock_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The sweep's step has written its clock rows itself (the flag is local to its transaction and
    -- set only around that one statement); the step never moves a period to another village.
    IF current_setting('monitoring.step_writes_clock', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- Only the rows whose moment or village changed: most updates of a period leave its clock alone.
    UPDATE {CLOCK} c SET next_due_at = {MOMENT}, division_code = n.division_id
    FROM new_rows n
    WHERE c.period_id = n.id
      AND (c.next_due_at IS DISTINCT FROM {MOMENT} OR c.division_code <> n.division_id);
    RETURN NULL;
END $$;

UPDATE {CLOCK} c SET division_code = p.division_id FROM {PERIOD} p WHERE p.id = c.period_id;
"""

PREVIOUS_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION monitoring_period_clock_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CLOCK} (period_id, next_due_at)
    SELECT n.id, {MOMENT} FROM new_rows n
    ON CONFLICT (period_id) DO UPDATE SET next_due_at = EXCLUDED.next_due_at;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION monitoring_period_clock_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('monitoring.step_writes_clock', true) = 'on' THEN
        RETURN NULL;
    END IF;
    UPDATE {CLOCK} c SET next_due_at = {MOMENT}
    FROM new_rows n
    WHERE c.period_id = n.id AND c.next_due_at IS DISTINCT FROM {MOMENT};
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0061_clock_written_by_sweep"),
    ]

    operations = [
        migrations.AddField(
            model_name="periodclock",
            name="division_code",
            field=models.CharField(default="", max_length=12),
        ),
        migrations.RunSQL(FUNCTIONS, PREVIOUS_FUNCTIONS),
        migrations.RemoveIndex(
            model_name="periodclock",
            name="period_clock_due",
        ),
        migrations.AddIndex(
            model_name="periodclock",
            index=models.Index(
                condition=models.Q(("next_due_at__isnull", False)),
                fields=["next_due_at", "division_code"],
                name="period_clock_due_village",
            ),
        ),
    ]
