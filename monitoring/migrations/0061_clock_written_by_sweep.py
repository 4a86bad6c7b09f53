"""The sweep's step writes the clock rows of the periods it moves in its own statement (monitoring/
sweep.py) and marks its transaction with `monitoring.step_writes_clock` meanwhile: the update trigger
then skips that statement, instead of collecting the step's new period rows into a transition table and
joining them to the clock table once more. Every other writer of periods keeps the trigger."""

from django.db import migrations

PERIOD = "monitoring_monitoringperiod"
CLOCK = "monitoring_periodclock"
MOMENT = "CASE WHEN n.state IN ('running', 'escalated') THEN n.next_due_at END"

UPDATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION monitoring_period_clock_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The sweep's step has written its clock rows itself (the flag is local to its transaction and
    -- set only around that one statement).
    IF current_setting('monitoring.step_writes_clock', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- Only the rows whose moment changed: most updates of a period leave its clock alone.
    UPDATE {CLOCK} c SET next_due_at = {MOMENT}
    FROM new_rows n
    WHERE c.period_id = n.id AND c.next_due_at IS DISTINCT FROM {MOMENT};
    RETURN NULL;
END $$;
"""

PREVIOUS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION monitoring_period_clock_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {CLOCK} c SET next_due_at = {MOMENT}
    FROM new_rows n
    WHERE c.period_id = n.id AND c.next_due_at IS DISTINCT FROM {MOMENT};
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0060_period_clock"),
    ]

    operations = [
        migrations.RunSQL(UPDATE_FUNCTION, PREVIOUS_FUNCTION),
    ]
