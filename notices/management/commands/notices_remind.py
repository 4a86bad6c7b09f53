"""`python manage.py notices_remind [--now ISO8601]`: Send reminders and create sub-unit follow-ups once (the same loop as the Celery beat job
notices.notices_remind, notices/tasks.py)."""

from notices.management.step_command import StepCommand


class Command(StepCommand):
    help = "Send reminders and create sub-unit follow-ups"
    step = "notices.services.push.remind_step"
    default_limit = 500
