"""`python manage.py notices_push [--now ISO8601]`: Push the approved notices that are due once (the same loop as the Celery beat job
reviews.notices_push, reviews/tasks.py)."""

from reviews.management.step_command import StepCommand


class Command(StepCommand):
    help = "Push the approved notices that are due"
    step = "reviews.notices.push_step"
    default_limit = 200
