"""`python manage.py notices_remind [--now ISO8601]`: Send reminders and create sub-unit follow-ups once (the same loop as the Celery beat job
reviews.notices_remind, reviews/tasks.py)."""

from reviews.management.step_command import StepCommand


class Command(StepCommand):
    help = "Send reminders and create sub-unit follow-ups"
    step = "reviews.notices.remind_step"
    default_limit = 500
