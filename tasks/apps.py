from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks"
    verbose_name = _("Tracing tasks")

    def ready(self):
        from auditlog.registry import auditlog

        from .models import Division, DutyShift, Person, TracingTask, Unit, UnitMembership, User

        # Change history of what people edit by hand; bulk set operations record their own history.
        auditlog.register(User, exclude_fields=["password", "last_login"])
        auditlog.register(Unit)
        auditlog.register(UnitMembership)
        auditlog.register(DutyShift)
        auditlog.register(Person, mask_fields=["id_number", "phone"])
        auditlog.register(TracingTask, exclude_fields=["next_alert_at", "updated_at", "version"])
        auditlog.register(Division)
