"""`python manage.py notices_deliver [--now ISO8601]`: Send the pending notice SMS once (the same loop as the Celery beat job
reviews.notices_deliver, reviews/tasks.py)."""

from reviews.management.step_command import StepCommand


class Command(StepCommand):
    help = "Send the pending notice SMS"
    step = "reviews.notices.deliver_step"
    default_limit = 100
