from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notices"
    verbose_name = _("Notices to people")

    def ready(self) -> None:
        from monitoring import hooks as monitoring_hooks
        from tasks import outbox

        from . import checkin_sms
        from .delivery import FLOW

        # The notice SMS go through the shared outbox (claim, send, backoff, late cut-off, attempts).
        outbox.register(FLOW)
        # The check-in reminders of monitored persons, with their check-in link: the same SMS gateway.
        outbox.register(checkin_sms.FLOW)
        monitoring_hooks.on_person_reminders("notices.checkin_sms", checkin_sms.person_reminders)

        # Personal data for the retention purge and key rotation of the base app (tasks/lifecycle.py).
        from . import lifecycle

        lifecycle.register()
