"""The SMS backends of notices to *persons*, configured like Django's e-mail backends:

    NOTICE_SMS_BACKEND = "notices.sms.HttpGatewayBackend"
    NOTICE_SMS_OPTIONS = {"url": "https://sms-gw.example.gov.cn/send", "secret": "...", "timeout": 5}

They are the outbox's backends (tasks/outbox/backends.py); a person's SMS is a separate setting from the
staff notifications' because notices to the public usually go through a different gateway account.
`sign` / `verify` are the HMAC of the gateway (outbound) and of the inbound SMS webhook.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings

from tasks.outbox import backends
from tasks.outbox.backends import Message, sign, verify

__all__ = [
    "ConsoleBackend",
    "FileBackend",
    "HttpGatewayBackend",
    "LocMemBackend",
    "Message",
    "get_backend",
    "outbox",
    "sign",
    "verify",
]

ConsoleBackend = backends.ConsoleBackend
HttpGatewayBackend = backends.HttpGatewayBackend


class FileBackend(backends.FileBackend):
    default_file = "notice-sms.jsonl"


outbox: list[Message] = []


class LocMemBackend(backends.LocMemBackend):
    """Tests: messages land in `notices.sms.outbox`; OPTIONS {"fail": True} fails every send."""

    outbox: ClassVar[list[Message]] = outbox


def get_backend() -> backends.BaseBackend:
    return backends.load_backend(settings.NOTICE_SMS_BACKEND, "sms", settings.NOTICE_SMS_OPTIONS)
