"""`python manage.py notices_generate [--now ISO8601]`: Generate notices from approved disposal proposals once (the same loop as the Celery beat job
notices.notices_generate, notices/tasks.py)."""

from notices.management.step_command import StepCommand


class Command(StepCommand):
    help = "Generate notices from approved disposal proposals"
    step = "notices.services.generation.notices_generate_from_proposals"
    default_limit = 1000
