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
        from reports.panels import register_dashboard_panel
        from tasks.hooks import register_clock_sweep
        from tasks.notify import register_renderer

        from . import lifecycle
        from .services import orders
        from .views import predictions

        lifecycle.register()
        register_clock_sweep("supervision_orders", orders.sweep_orders)
        register_renderer(orders.NOTIFICATION_KIND, orders.render_notification)
        register_dashboard_panel("predicted_breaches", predictions.dashboard_panel)

    def seed_demo(self, *, now) -> None:
        """Demo data of duty operations, called by `manage.py seed_demo` (which may not import this app)."""
        from .demo_orders import seed_demo_orders

        seed_demo_orders(now=now)
