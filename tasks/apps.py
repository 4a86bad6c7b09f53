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
        auditlog.register(
            Person,
            mask_fields=["id_number", "phone", "name"],
            exclude_fields=["name_hash", "name_sound_hash", "surname_hash"],
            mask_callable="tasks.crypto.audit_mask",
        )
        auditlog.register(
            TracingTask,
            exclude_fields=["next_alert_at", "updated_at", "version"],
            mask_fields=["address"],
            mask_callable="tasks.crypto.audit_mask",
        )
        auditlog.register(Division)

        from . import (
            jobs_security,  # noqa: F401  (issue 9: registers the retention job with Celery)
            tokens,  # noqa: F401  (revocation at logout, password change, second-factor reset)
        )

        # Field records: who recorded or changed what on a task.
        from .models import CloseContact, ContactAttempt, RadiusControl, TestResult, TrajectoryEntry

        # The values encrypted at rest are masked in the history too: it records that they changed.
        auditlog.register(ContactAttempt)
        auditlog.register(RadiusControl, mask_fields=["address"], mask_callable="tasks.crypto.audit_mask")
        auditlog.register(
            TrajectoryEntry,
            exclude_fields=["last_edit_key"],
            mask_fields=["place_name", "address", "companions"],
            mask_callable="tasks.crypto.audit_mask",
        )
        auditlog.register(
            CloseContact,
            mask_fields=["id_number", "phone", "name", "last_contact_place", "address"],
            mask_callable="tasks.crypto.audit_mask",
        )
        auditlog.register(TestResult)

        # The personal data tasks holds, for the retention purge and key rotation (tasks/lifecycle.py);
        # the apps built on tasks register theirs in their own ready().
        from . import personal_data

        personal_data.register()
        personal_data.register_third_party()
