"""The outbox: every message that leaves the system goes through here (docs/outbox.md).

A *flow* is one kind of outbound message with its own delivery table: the staff notifications
(tasks/notify.py, `NotificationDelivery`), the SMS to persons (notices/delivery.py, `NoticeDelivery`),
the source-feedback webhooks (reports/feedback.py, `SourceFeedback`), later the monitoring reminders.
Rows are written first, in the same transaction as what caused them; the delivery step sends them
afterwards. The outbox owns, once for
all flows:

* the claim: `SELECT … FOR UPDATE SKIP LOCKED` of due pending rows, so any number of workers can run;
* the send, grouped per channel, through pluggable backends (tasks/outbox/backends.py: console, file,
  locmem, e-mail, signed HTTP SMS gateway), configured like Django's e-mail backends;
* the outcome: attempts, backoff (2, 4, 8 … ≤ 60 minutes), failed for good after the flow's maximum
  attempts, failed as "too late" past the flow's late cut-off rather than sent hours late.

Delivery is **at-least-once**: a row is marked sent in the same transaction that claimed it, after the
backend accepted the message; a worker dying in between leaves it pending, and it is sent again (a
duplicate, never a lost message; gateways get the row id to drop the duplicate).
"""

from .backends import (
    BaseBackend,
    ConsoleBackend,
    DjangoEmailBackend,
    FileBackend,
    HttpGatewayBackend,
    LocMemBackend,
    Message,
    load_backend,
    sign,
    verify,
)
from .delivery import Flow, backoff_minutes, deliver_pending, deliver_step, flows, get_flow, register
from .jobs import outbox_deliver

__all__ = [
    "BaseBackend",
    "ConsoleBackend",
    "DjangoEmailBackend",
    "FileBackend",
    "Flow",
    "HttpGatewayBackend",
    "LocMemBackend",
    "Message",
    "backoff_minutes",
    "deliver_pending",
    "deliver_step",
    "flows",
    "get_flow",
    "load_backend",
    "outbox_deliver",
    "register",
    "sign",
    "verify",
]
