"""The backends of the outbox: one interface for every channel (SMS, e-mail, webhooks).

`send_messages(messages) → {delivery_id: outcome}` where an outcome is None (accepted), an error text,
or `(None | error text, the gateway's message id)`. A backend never raises for one bad message; an
exception counts as a failure of the whole batch (retried with backoff).

* ConsoleBackend (development), FileBackend (OPTIONS {"path": ...}: one JSON line per message),
  LocMemBackend (tests: messages land in the class's `outbox` list; OPTIONS {"fail": True} fails every
  send), DjangoEmailBackend (through Django's EMAIL_BACKEND), HttpGatewayBackend (an SMS gateway: one
  signed JSON POST per message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string

Outcome = tuple[str | None, str]


@dataclass
class Message:
    delivery_id: int
    channel: str
    address: str
    subject: str
    body: str

    @property
    def to(self) -> str:
        return self.address

    @property
    def text(self) -> str:
        """The message as one text (an SMS): the body, after the subject when there is one."""
        if not self.subject or self.subject == self.body:
            return self.body
        return f"{self.subject}\n{self.body}"


def outcome(value: str | None | Outcome) -> Outcome:
    if isinstance(value, tuple):
        return value
    return value, ""


class BaseBackend:
    def __init__(self, channel: str = "", **options: Any) -> None:
        self.channel = channel
        self.options = options

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        """Send; return {delivery_id: None when accepted, else the error text (or an Outcome)}."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        stream = self.options.get("stream") or sys.stdout
        for m in messages:
            head = f"[{m.channel or self.channel} → {m.address}]"
            stream.write(f"{head} {m.subject}\n{m.body}\n" if m.subject else f"{head} {m.body}\n")
        stream.flush()
        return {m.delivery_id: None for m in messages}


class FileBackend(BaseBackend):
    default_file: ClassVar[str] = ""
    _lock = threading.Lock()

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        name = self.default_file or f"{self.channel or 'outbox'}.jsonl"
        path = Path(self.options.get("path") or Path(settings.BASE_DIR) / ".local" / name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a", encoding="utf-8") as fh:
            for m in messages:
                fh.write(json.dumps(asdict(m), ensure_ascii=False) + "\n")
        return {m.delivery_id: None for m in messages}


class LocMemBackend(BaseBackend):
    """Tests. Each flow's subclass names its own list, so that two flows' messages never mix."""

    outbox: ClassVar[list[Message]] = []
    _lock = threading.Lock()

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        if self.options.get("fail"):
            return {m.delivery_id: "simulated failure" for m in messages}
        with self._lock:
            self.outbox.extend(messages)
        return {m.delivery_id: None for m in messages}


class DjangoEmailBackend(BaseBackend):
    """E-mail through Django's own EMAIL_BACKEND (console or file backends in development)."""

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        from django.core.mail import EmailMessage, get_connection

        results: dict[int, Any] = {}
        with get_connection(fail_silently=False) as conn:
            for m in messages:
                try:
                    EmailMessage(m.subject, m.body, to=[m.address], connection=conn).send()
                    results[m.delivery_id] = None
                except Exception as exc:
                    results[m.delivery_id] = repr(exc)
        return results


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age: int = 300, now: float | None = None
) -> bool:
    """An inbound webhook's check: a fresh timestamp and a matching signature (constant time)."""
    if not secret or not timestamp or not signature:
        return False
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > max_age:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class HttpGatewayBackend(BaseBackend):
    """An SMS gateway: one POST of JSON per message ({"to", "text", "client_ref"}) signed with
    `X-Notice-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>` and `X-Notice-Timestamp`.
    `client_ref` is the delivery row id: a gateway that de-duplicates on it turns our at-least-once into
    exactly-once. 2xx is accepted (the JSON answer's "id" is kept), anything else is an error (retried).
    OPTIONS: {"url", "secret", "timeout"}."""

    def send_messages(self, messages: list[Message]) -> dict[int, Any]:
        url = self.options["url"]
        secret = self.options.get("secret", "")
        timeout = float(self.options.get("timeout", 5))
        results: dict[int, Any] = {}
        for m in messages:
            body = json.dumps(
                {"to": m.address, "text": m.text, "client_ref": str(m.delivery_id)}, ensure_ascii=False
            ).encode()
            timestamp = str(int(time.time()))
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Notice-Timestamp": timestamp,
                    "X-Notice-Signature": sign(secret, timestamp, body),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    payload = response.read()
                    try:
                        gateway_id = str(json.loads(payload or b"{}").get("id", ""))
                    except (ValueError, AttributeError):
                        gateway_id = ""
                    results[m.delivery_id] = (None, gateway_id)
            except urllib.error.HTTPError as exc:
                results[m.delivery_id] = (f"gateway answered {exc.code}", "")
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                results[m.delivery_id] = (f"gateway unreachable: {exc}", "")
        return results


def load_backend(path: str, channel: str = "", options: dict[str, Any] | None = None) -> BaseBackend:
    backend: BaseBackend = import_string(path)(channel, **(options or {}))
    return backend
