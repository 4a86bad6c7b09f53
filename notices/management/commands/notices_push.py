"""`python manage.py notices_push [--now ISO8601]`: Push the approved notices that are due once (the same loop as the Celery beat job
notices.notices_push, notices/tasks.py)."""

from notices.management.step_command import StepCommand


class Command(StepCommand):
    help = "Push the approved notices that are due"
    step = "notices.services.push.push_step"
    default_limit = 200
