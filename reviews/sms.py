"""SMS to *persons* (issue 8): pluggable gateway backends, configured like Django's e-mail backends.

    NOTICE_SMS_BACKEND = "reviews.sms.HttpGatewayBackend"
    NOTICE_SMS_OPTIONS = {"url": "https://sms-gw.example.gov.cn/send", "secret": "...", "timeout": 5}

tasks/notify.py has the staff notification channels; its interface (`send_messages(messages) →
{id: None | error}`) is reused here so the two read alike, but a person's SMS is a separate backend
setting: staff alerts and notices to the public usually go through different gateway accounts.

Backends:
* HttpGatewayBackend: one POST of JSON per message ({"to", "text", "client_ref"}) signed with
  `X-Notice-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>` and `X-Notice-Timestamp`.
  `client_ref` is the delivery row id: a gateway that de-duplicates on it turns our at-least-once into
  exactly-once. 2xx is accepted (the JSON answer's "id" is kept), anything else is an error (retried).
* ConsoleBackend (development), FileBackend (one JSON line per message), LocMemBackend (tests:
  `reviews.sms.outbox`).
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

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class SmsMessage:
    delivery_id: int
    to: str
    text: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age: int = 300, now: float | None = None
) -> bool:
    """The inbound webhook's check: a fresh timestamp and a matching signature (constant time)."""
    if not secret or not timestamp or not signature:
        return False
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > max_age:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class BaseSmsBackend:
    def __init__(self, **options):
        self.options = options

    def send_messages(self, messages: list[SmsMessage]) -> dict[int, tuple[str | None, str]]:
        """Send; return {delivery_id: (None | error text, gateway message id)}."""
        raise NotImplementedError


class HttpGatewayBackend(BaseSmsBackend):
    def send_messages(self, messages):
        url = self.options["url"]
        secret = self.options.get("secret", "")
        timeout = float(self.options.get("timeout", 5))
        results = {}
        for m in messages:
            body = json.dumps(
                {"to": m.to, "text": m.text, "client_ref": str(m.delivery_id)}, ensure_ascii=False
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


class ConsoleBackend(BaseSmsBackend):
    def send_messages(self, messages):
        stream = self.options.get("stream") or sys.stdout
        for m in messages:
            stream.write(f"[sms → {m.to}] {m.text}\n")
        stream.flush()
        return {m.delivery_id: (None, "") for m in messages}


class FileBackend(BaseSmsBackend):
    _lock = threading.Lock()

    def send_messages(self, messages):
        path = Path(self.options.get("path") or Path(settings.BASE_DIR) / ".local" / "notice-sms.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a", encoding="utf-8") as fh:
            for m in messages:
                fh.write(json.dumps(asdict(m), ensure_ascii=False) + "\n")
        return {m.delivery_id: (None, "") for m in messages}


outbox: list[SmsMessage] = []
_outbox_lock = threading.Lock()


class LocMemBackend(BaseSmsBackend):
    """Tests: messages land in `reviews.sms.outbox`; OPTIONS {"fail": True} fails every send."""

    def send_messages(self, messages):
        if self.options.get("fail"):
            return {m.delivery_id: ("simulated failure", "") for m in messages}
        with _outbox_lock:
            outbox.extend(messages)
        return {m.delivery_id: (None, "") for m in messages}


def get_backend() -> BaseSmsBackend:
    path = getattr(settings, "NOTICE_SMS_BACKEND", "reviews.sms.ConsoleBackend")
    return import_string(path)(**getattr(settings, "NOTICE_SMS_OPTIONS", {}))
