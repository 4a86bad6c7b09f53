"""Delivery of notices (issue 8): two workers never push one notice twice nor send one SMS twice; the
HTTP gateway backend against a real local HTTP server, with a failure and the retry."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection

from notices import sms
from notices.delivery import deliver_step
from notices.models import Notice, NoticeDelivery, NoticeState
from notices.services.push import push_step
from tests.notice_fixtures import approve_both, at, notice_in_review


def _run_concurrently(functions):
    barrier = threading.Barrier(len(functions))
    errors, results = [], []

    def worker(fn):
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


class SlowLocMem(sms.LocMemBackend):
    """Holds the claim a little, so that the second worker really runs while the first sends."""

    def send_messages(self, messages):
        import time

        time.sleep(0.2)
        return super().send_messages(messages)


@pytest.fixture
def approved_notices(transactional_db, hainan, county_desk, city_desk):
    created = []
    for i in range(6):
        notice = notice_in_review(phone=f"1390000{i:04d}", now=at(20, 9))
        approve_both(notice, county_desk, city_desk, now=at(20, 10))
        created.append(notice)
    return created


def test_two_workers_never_push_the_same_notice_twice(approved_notices, settings):
    settings.NOTICE_SMS_BACKEND = "tests.test_notice_delivery.SlowLocMem"
    sms.outbox.clear()
    now = at(20, 10, 5)
    pushed = _run_concurrently([lambda: push_step(now=now, limit=100), lambda: push_step(now=now, limit=100)])
    assert sum(pushed) == 6  # each notice claimed by exactly one worker
    assert NoticeDelivery.objects.filter(channel="sms").count() == 6
    sent = _run_concurrently([lambda: deliver_step(now=now, limit=2) for _ in range(4)])
    while deliver_step(now=now, limit=2):
        pass
    assert sum(sent) <= 6
    assert sorted(m.delivery_id for m in sms.outbox) == sorted(
        NoticeDelivery.objects.filter(channel="sms").values_list("pk", flat=True)
    )
    assert Notice.objects.filter(state=NoticeState.PUSHED).count() == 6
    assert len({n.token_hash for n in Notice.objects.all()}) == 6
    sms.outbox.clear()


class Gateway:
    """A real HTTP server on 127.0.0.1: answers 503 to the first `fail` requests, then 200 with an id;
    checks the HMAC signature of each request."""

    def __init__(self, *, secret: str, fail: int = 0):
        self.secret, self.fail, self.received, self.bad_signatures = secret, fail, [], 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not sms.verify(
                    gateway.secret,
                    self.headers["X-Notice-Timestamp"],
                    body,
                    self.headers["X-Notice-Signature"],
                ):
                    gateway.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                if gateway.fail > 0:
                    gateway.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                gateway.received.append(json.loads(body))
                answer = json.dumps({"id": f"gw-{len(gateway.received)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_the_http_gateway_backend_retries_a_failure_with_backoff(county_desk, city_desk, settings):
    notice = notice_in_review(phone="13912340000", now=at(20, 9))
    with Gateway(secret="gw-secret", fail=1) as gateway:
        settings.NOTICE_SMS_BACKEND = "notices.sms.HttpGatewayBackend"
        settings.NOTICE_SMS_OPTIONS = {"url": gateway.url, "secret": "gw-secret", "timeout": 5}
        with time_machine.travel(at(20, 10), tick=False):
            approve_both(notice, county_desk, city_desk)
            push_step()
        # time-machine moves time.time() in every thread: the server checks the signature timestamp against it.
        with time_machine.travel(at(20, 10, 1), tick=False):
            assert deliver_step() == 1
        delivery = NoticeDelivery.objects.get(notice=notice, channel="sms")
        assert delivery.status == "pending" and delivery.attempts == 1 and "503" in delivery.last_error
        assert delivery.next_attempt_at == at(20, 10, 3)  # backoff: 2 minutes
        with time_machine.travel(at(20, 10, 3) - timedelta(seconds=1), tick=False):
            assert deliver_step() == 0
        with time_machine.travel(at(20, 10, 3) + timedelta(seconds=1), tick=False):
            assert deliver_step() == 1
        delivery.refresh_from_db()
        assert delivery.status == "sent" and delivery.attempts == 2 and delivery.gateway_id == "gw-1"
        assert gateway.bad_signatures == 0
        [message] = gateway.received
        assert message["to"] == "13912340000" and message["client_ref"] == str(delivery.pk)
        assert notice.title in message["text"] and "/n/" in message["text"]


def test_an_unreachable_gateway_fails_for_good_after_the_last_attempt(county_desk, city_desk, settings):
    settings.NOTICE_SMS_BACKEND = "notices.sms.HttpGatewayBackend"
    settings.NOTICE_SMS_OPTIONS = {"url": "http://127.0.0.1:9/send", "secret": "s", "timeout": 1}
    settings.NOTICE_SMS_MAX_ATTEMPTS = 2
    notice = notice_in_review(urgent=True, now=at(20, 9))
    with time_machine.travel(at(20, 10), tick=False):
        approve_both(notice, county_desk, city_desk)
        push_step()
        deliver_step()
    with time_machine.travel(at(20, 10, 5), tick=False):
        deliver_step()
    delivery = NoticeDelivery.objects.get(notice=notice, channel="sms")
    assert delivery.status == "failed" and delivery.attempts == 2 and "unreachable" in delivery.last_error


def test_the_gateway_signature(settings):
    body = b'{"to": "1"}'
    signature = sms.sign("k", "1700000000", body)
    assert sms.verify("k", "1700000000", body, signature, now=1700000100)
    assert not sms.verify("k", "1700000000", body, signature, now=1700001000)  # too old
    assert not sms.verify("other", "1700000000", body, signature, now=1700000100)
    assert not sms.verify("k", "1700000000", body + b" ", signature, now=1700000100)
