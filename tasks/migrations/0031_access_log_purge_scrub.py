"""The access log stays append-only, with one exception for the retention purge (tasks/personal_data.py):
inside a transaction that set `tasks.access_log_purge` to 'on', an UPDATE may change the free text of
an entry (`reason`) and its page address (`path`, whose query string can hold a searched name or
phone), nothing else: who read what, when and from where stays. DELETE is always refused."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION tasks_accesslog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('tasks.access_log_purge', true) = 'on'
       AND to_jsonb(NEW) - ARRAY['reason', 'path'] = to_jsonb(OLD) - ARRAY['reason', 'path'] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP;
END $$;
"""

BACKWARD = r"""
CREATE OR REPLACE FUNCTION tasks_accesslog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0030_purge_run_counts"),
    ]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
