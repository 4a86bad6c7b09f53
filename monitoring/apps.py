from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    """Health monitoring after the decision: periods, daily check-ins, sample schedules, lab results and
    case status. Sits between reviews and notices: notices → monitoring → reviews → tasks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = _("Health monitoring")

    def ready(self) -> None:
        from . import lifecycle

        lifecycle.register()
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
