from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notices"
    verbose_name = _("Notices to people")

    def ready(self) -> None:
        from tasks import outbox

        from .delivery import FLOW

        # The notice SMS go through the shared outbox (claim, send, backoff, late cut-off, attempts).
        outbox.register(FLOW)

        # Personal data for the retention purge and key rotation of the base app (tasks/lifecycle.py).
        from . import lifecycle

        lifecycle.register()
