from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    """Health monitoring after the decision: periods, daily check-ins, sample schedules, lab results and
    case status. Sits between reviews and notices: notices → monitoring → reviews → tasks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = _("Health monitoring")

    def ready(self) -> None:
        from tasks import hooks as task_hooks
        from tasks.hooks import register_clock_sweep
        from tasks.models import Notification
        from tasks.notify import register_renderer

        from . import lifecycle, notifications, sweep
        from .services.labs import on_test_results
        from .task_section import task_section

        lifecycle.register()
        register_clock_sweep("monitoring", sweep.sweep_clocks)
        register_renderer(Notification.Kind.MONITORING, notifications.render, notifications.link)
        # The task page lists the task's monitoring periods ("monitoring and tests").
        task_hooks.provide_task_page_section("monitoring", task_section)
        # A result typed into a task by the field team has the effects of one from the lab feed.
        task_hooks.on_test_results("monitoring.lab_effects", on_test_results)
        self._start_periods()

    @staticmethod
    def _start_periods() -> None:
        """Periods start from the approval (in its transaction), from a completed registration, and
        from the catch-up that runs with the clock sweep (every disposal not yet applied)."""
        from reviews.hooks import on_disposal_approved
        from tasks.hooks import on_registration_completed, register_clock_sweep

        from .services import periods

        on_disposal_approved(
            "monitoring_periods",
            lambda *, disposal_ids, now: periods.start_from_disposals(disposal_ids=disposal_ids, now=now),
        )
        on_registration_completed(
            "monitoring_periods",
            lambda *, task_ids, now: periods.start_from_registrations(task_ids=task_ids, now=now),
        )
        register_clock_sweep("monitoring_periods", lambda *, now: periods.catch_up(now=now))
