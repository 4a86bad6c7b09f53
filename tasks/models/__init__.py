"""Models of the tasks app: the territory, accounts and units, and the tracing work itself.

One module per area; everything is re-exported here so that `from tasks.models import X` works.
"""

from .accounts import ActivationCode, Role, User
from .intake import IntakeBatch, Lead, LeadRejection, Person, Source
from .territory import Division, Level, normalize_code
from .tracing import (
    ACTIVE_STATUSES,
    Priority,
    TaskStatus,
    TaskTransition,
    TracingTask,
    TracingTaskGroupObjectPermission,
    TracingTaskUserObjectPermission,
)
from .units import DutyShift, Unit, UnitMembership

__all__ = [
    "ACTIVE_STATUSES",
    "ActivationCode",
    "Division",
    "DutyShift",
    "IntakeBatch",
    "Lead",
    "LeadRejection",
    "Level",
    "Person",
    "Priority",
    "Role",
    "Source",
    "TaskStatus",
    "TaskTransition",
    "TracingTask",
    "TracingTaskGroupObjectPermission",
    "TracingTaskUserObjectPermission",
    "Unit",
    "UnitMembership",
    "User",
    "normalize_code",
]
