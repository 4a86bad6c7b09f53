from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DutyConfig(AppConfig):
    """Running the command center: the duty roster and shift handovers, the workload of members and
    teams, and supervision orders (督办). Built on every other app: it reads what a shift must hand over
    (tasks, reviews, monitoring, notices) and nothing below it imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "duty"
    verbose_name = _("Duty operations")

    def ready(self) -> None:
        from . import lifecycle

        lifecycle.register()
