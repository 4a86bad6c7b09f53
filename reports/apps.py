from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from reviews.models import Review
        from tasks import hooks, outbox
        from tasks.models import CloseContact, RadiusControl, TestResult, TrajectoryEntry

        from . import feedback, lifecycle, signals

        # What became of each lead goes back to its source when its task ends (SOURCE_FEEDBACK_ENDPOINTS).
        hooks.on_tasks_ended("reports.source_feedback", feedback.feedback_record)
        # ... and is sent by the outbox, like every message that leaves the system (docs/outbox.md).
        outbox.register(feedback.FLOW)

        # Personal data for the retention purge and key rotation of the base app (tasks/lifecycle.py).
        lifecycle.register()

        post_save.connect(signals.on_review_saved, sender=Review, dispatch_uid="reports_review_approved")
        for model in (TrajectoryEntry, CloseContact, TestResult, RadiusControl):
            post_save.connect(
                signals.on_report_data_changed, sender=model, dispatch_uid=f"reports_change_{model.__name__}"
            )
            post_delete.connect(
                signals.on_report_data_changed, sender=model, dispatch_uid=f"reports_delete_{model.__name__}"
            )
