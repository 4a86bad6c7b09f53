"""Pending leads in a narrow inbox table and consumed leads in a narrow link table, instead of the
batch and task columns of tasks_lead: the intake no longer rewrites a million wide lead rows (see
tasks/models/intake.py Lead). Existing leads keep their state: linked leads get their LeadLink, pending
ones their PendingLead. A statement trigger with a transition table makes every lead inserted pending,
in one set insert per statement (COPY included)."""

import django.db.models.deletion
from django.db import migrations, models

COPY_STATES = """
INSERT INTO tasks_leadlink (lead_id, batch_id, task_id)
SELECT id, batch_id, task_id FROM tasks_lead WHERE task_id IS NOT NULL;
INSERT INTO tasks_pendinglead (lead_id)
SELECT id FROM tasks_lead WHERE task_id IS NULL;
"""

RESTORE_STATES = """
UPDATE tasks_lead l SET batch_id = k.batch_id, task_id = k.task_id FROM tasks_leadlink k WHERE k.lead_id = l.id;
"""

PENDING_TRIGGER = """
CREATE FUNCTION tasks_lead_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_pendinglead (lead_id) SELECT id FROM inserted_leads;
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_lead_pending AFTER INSERT ON tasks_lead
    REFERENCING NEW TABLE AS inserted_leads FOR EACH STATEMENT EXECUTE FUNCTION tasks_lead_pending();
"""

DROP_PENDING_TRIGGER = """
DROP TRIGGER IF EXISTS tasks_lead_pending ON tasks_lead;
DROP FUNCTION IF EXISTS tasks_lead_pending();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0014_task_assignee_status_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadLink",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="link",
                        serialize=False,
                        to="tasks.lead",
                    ),
                ),
                (
                    "batch",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lead_links",
                        to="tasks.intakebatch",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lead_links",
                        to="tasks.tracingtask",
                    ),
                ),
            ],
            options={
                "verbose_name": "lead link",
                "verbose_name_plural": "lead links",
            },
        ),
        migrations.CreateModel(
            name="PendingLead",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="pending",
                        serialize=False,
                        to="tasks.lead",
                    ),
                ),
            ],
            options={
                "verbose_name": "pending lead",
                "verbose_name_plural": "pending leads",
            },
        ),
        migrations.RunSQL(COPY_STATES, RESTORE_STATES),
        migrations.RemoveIndex(model_name="lead", name="lead_pending"),
        migrations.RemoveIndex(model_name="lead", name="lead_task"),
        migrations.RemoveIndex(model_name="lead", name="lead_batch"),
        migrations.RemoveField(model_name="lead", name="batch"),
        migrations.RemoveField(model_name="lead", name="task"),
        migrations.AddField(
            model_name="tracingtask",
            name="leads",
            field=models.ManyToManyField(
                blank=True, related_name="+", through="tasks.LeadLink", to="tasks.lead"
            ),
        ),
        migrations.RunSQL(PENDING_TRIGGER, DROP_PENDING_TRIGGER),
    ]
