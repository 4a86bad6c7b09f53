"""`python manage.py notices_deliver [--now ISO8601]`: Send the pending notice SMS once (the same loop as the Celery beat job
notices.notices_deliver, notices/tasks.py)."""

from notices.management.step_command import StepCommand


class Command(StepCommand):
    help = "Send the pending notice SMS"
    step = "notices.delivery.deliver_step"
    default_limit = 100
