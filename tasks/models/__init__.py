"""Models of the tasks app: the territory, accounts and units, and the tracing work itself.

One module per area; everything is re-exported here so that `from tasks.models import X` works.
"""

from .access import AccessAction, AccessLog
from .accounts import ActivationCode, Role, User
from .duplicates import DuplicateCandidate, DuplicateRule, DuplicateState
from .fieldwork import CloseContact, ContactAttempt, RadiusControl, Registration, TestResult, TrajectoryEntry
from .intake import (
    CaseStatus,
    IdType,
    IntakeBatch,
    Lead,
    LeadLink,
    LeadRejection,
    PendingLead,
    Person,
    Source,
)
from .retention import PurgeRun
from .territory import Division, Level, normalize_code
from .tokens import ApiToken
from .tracing import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    KIND_OUTCOMES,
    KIND_RANK,
    Priority,
    TaskKind,
    TaskOutcome,
    TaskStatus,
    TaskTransition,
    TracingTask,
    TracingTaskGroupObjectPermission,
    TracingTaskUserObjectPermission,
    TriageRule,
)
from .units import DutyShift, Unit, UnitMembership
from .uploads import UploadJob
from .workflow import AlertLevel, Clock, Escalation, Notification, NotificationDelivery, Transfer

__all__ = [
    "ApiToken",
    "AccessAction",
    "AccessLog",
    "PurgeRun",
    "CloseContact",
    "ContactAttempt",
    "RadiusControl",
    "Registration",
    "TestResult",
    "TrajectoryEntry",
    "AlertLevel",
    "Clock",
    "Escalation",
    "Notification",
    "NotificationDelivery",
    "Transfer",
    "ACTIVE_STATUSES",
    "DuplicateCandidate",
    "DuplicateRule",
    "DuplicateState",
    "ENDED_STATUSES",
    "KIND_OUTCOMES",
    "KIND_RANK",
    "TaskKind",
    "TaskOutcome",
    "TriageRule",
    "ActivationCode",
    "Division",
    "DutyShift",
    "CaseStatus",
    "IdType",
    "IntakeBatch",
    "Lead",
    "LeadLink",
    "PendingLead",
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
    "UploadJob",
    "User",
    "normalize_code",
]
