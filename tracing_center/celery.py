"""The Celery app. Periodic jobs are declared here, in one place, and each also exists as a management
command (run_intake, sweep_deadlines, ...) so it can be run, tested and timed on its own."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracing_center.settings")

app = Celery("tracing_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {}

# Unified intake: every INTAKE_INTERVAL_MINUTES (10) the pending leads become one batch (tasks/intake.py).
from django.conf import settings as _settings  # noqa: E402

app.conf.beat_schedule["intake-batch"] = {
    "task": "tasks.run_intake",
    "schedule": _settings.INTAKE_INTERVAL_MINUTES * 60.0,
}

# Deadline sweep (issue 4, tasks/sweep.py): every minute; the same step as `manage.py sweep_deadlines`.
# Delivery of SMS / e-mail notifications (tasks/notify.py): every 20 s, and right after a sweep queued some.
app.conf.beat_schedule["sweep-deadlines"] = {"task": "tasks.sweep_deadlines", "schedule": 60.0, "options": {"expires": 55}}
app.conf.beat_schedule["deliver-notifications"] = {
    "task": "tasks.deliver_notifications",
    "schedule": 20.0,
    "options": {"expires": 18},
}

# Retention (issue 9): nightly purge of personal data past RETENTION_DAYS (tasks/retention.py).
from celery.schedules import crontab  # noqa: E402

app.conf.beat_schedule["purge-personal-data"] = {
    "task": "tasks.purge_personal_data",
    "schedule": crontab(hour=_settings.RETENTION_HOUR, minute=17),
}


# Reports (issue 7): pushes whose retry message was lost are picked up here (reports/tasks.py).
app.conf.beat_schedule["reports-resend-deliveries"] = {
    "task": "reports.resend_due_deliveries",
    "schedule": 60.0,
    "options": {"expires": 55},
}

# Notices (issue 8, reviews/tasks.py): generation every 5 min, push and SMS delivery every 30 s,
# reminders and follow-ups every minute; each is also a management command (notices_*).
app.conf.beat_schedule["notices-generate"] = {"task": "reviews.notices_generate", "schedule": 300.0, "options": {"expires": 290}}
app.conf.beat_schedule["notices-push"] = {"task": "reviews.notices_push", "schedule": 30.0, "options": {"expires": 28}}
app.conf.beat_schedule["notices-deliver"] = {"task": "reviews.notices_deliver", "schedule": 30.0, "options": {"expires": 28}}
app.conf.beat_schedule["notices-remind"] = {"task": "reviews.notices_remind", "schedule": 60.0, "options": {"expires": 55}}
