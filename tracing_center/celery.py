"""The Celery app. The periodic jobs are declared in settings (CELERY_BEAT_SCHEDULE), in one place; each
also exists as a management command (run_intake, sweep_deadlines, ...) so it can be run, tested and
timed on its own."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracing_center.settings")

app = Celery("tracing_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
