"""Investigation reports (issue 7): a numbered version per approval, a new one after a change, PDF
with signatures and the reader's masking and watermark, and the push upstream (HMAC, retries)."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from reports.models import DeliveryAttempt, ReportVersion, UpstreamDelivery
from reports.reading import render_pdf
from reports.services import delivery_attempt
from reviews import services as review_services
from tasks.models import AccessLog, Person
from tests.review_fixtures import APPROVAL, contact

pytestmark = pytest.mark.django_db
ID_NUMBER = "460105199001011234"


def approve(review, expert):
    review_services.review_claim(review=review, actor=expert)
    return review_services.review_approve(
        review=review, actor=expert, disposal=APPROVAL, reasons="轨迹完整，同意"
    )


@pytest.fixture
def approved(review, cdc_expert):
    Person.objects.filter(pk=review.task.person_id).update(id_number=ID_NUMBER, name="张三丰")
    approve(review, cdc_expert)
    return review.task


def pdf_text(pdf: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_an_approval_freezes_version_1_with_the_sign_off(approved, cdc_expert, field_staff):
    version = ReportVersion.objects.get(task=approved)
    assert (version.number, version.reason) == (1, "approval")
    signoff = version.data["signoff"]
    assert signoff["reviewed_by"]["username"] == cdc_expert.username and signoff["reviewed_at"]
    assert field_staff.username in [u["username"] for u in signoff["investigated_by"]]
    assert version.data["disposal"]["days"] == 14


def test_a_change_after_approval_makes_version_2_and_keeps_version_1(
    approved, field_staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact(approved, field_staff, timezone.now() - timedelta(hours=3), name="赵六")
    versions = list(ReportVersion.objects.filter(task=approved).order_by("number"))
    assert [(v.number, v.reason) for v in versions] == [(1, "approval"), (2, "change")]
    assert "赵六" not in json.dumps(versions[0].data, ensure_ascii=False)
    assert "赵六" in json.dumps(versions[1].data, ensure_ascii=False)
    # an edit that changes nothing the report shows makes no version
    from reports.services import report_refresh

    assert report_refresh(task_id=approved.pk) is None


def test_the_pdf_has_pages_signatures_and_masks_the_id_for_a_commander(approved, commander, cdc_expert):
    version = ReportVersion.objects.get(task=approved)
    pdf, pages = render_pdf(user=commander, data=version.data, version=version)
    assert pdf.startswith(b"%PDF") and pages >= 1
    artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "report-sample.pdf").write_bytes(pdf)  # kept for a look by eye
    text = pdf_text(pdf)
    assert "签" in text or "Sign-off" in text or "Investigated by" in text
    assert cdc_expert.display_name in text  # the reviewer's signature
    assert ID_NUMBER not in text and "4601**********1234" in text
    assert commander.username in text  # the viewer's watermark
    # a role that needs the number sees it in full
    pdf_full, _ = render_pdf(user=cdc_expert, data=version.data, version=version)
    assert ID_NUMBER in pdf_text(pdf_full)


def test_the_report_pages_are_scoped_recorded_and_watermarked(
    client, approved, commander, outsider, password
):
    assert client.login(username=outsider.username, password=password)
    for url in (
        f"/reports/tasks/{approved.pk}/",
        f"/reports/tasks/{approved.pk}/v1/",
        f"/reports/tasks/{approved.pk}/v1.pdf",
        f"/reports/tasks/{approved.pk}/cluster/",
        f"/api/v1/reports/chain/{approved.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    client.logout()
    assert client.login(username=commander.username, password=password)
    html = client.get(f"/reports/tasks/{approved.pk}/v1/").content.decode()
    assert ID_NUMBER not in html and "4601**********1234" in html and 'data-testid="watermark"' in html
    response = client.get(f"/reports/tasks/{approved.pk}/v1.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert AccessLog.objects.filter(user=commander, action="report", task_id=approved.pk).count() >= 2
    assert client.get(f"/reports/tasks/{approved.pk}/v9.pdf").status_code == 404


# ---- upstream push against a real local HTTP server ---------------------------------------------------


class Upstream(BaseHTTPRequestHandler):
    """Answers 503 twice, then 200; records each request."""

    requests: list = []
    failures_left = 2

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((self.headers.get("X-TC-Signature"), body))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    Upstream.requests, Upstream.failures_left = [], 2
    server = HTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/reports"
    server.shutdown()
    server.server_close()


def test_a_push_that_fails_twice_is_retried_with_backoff_and_delivered_once(
    review, cdc_expert, upstream, django_capture_on_commit_callbacks
):
    from unittest import mock

    with (
        override_settings(
            UPSTREAM_ENDPOINTS=[upstream], UPSTREAM_SECRET="s3cret", UPSTREAM_RETRY_BASE_SECONDS=30
        ),
        mock.patch("reports.tasks.push_delivery.delay") as enqueued,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            approve(review, cdc_expert)
        delivery = UpstreamDelivery.objects.get()
        enqueued.assert_called_once_with(delivery.pk)  # enqueued after commit, not sent inside the approval
        now = timezone.now()
        assert delivery_attempt(delivery_id=delivery.pk, now=now) == "pending"
        assert (
            delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=10)) == "skipped"
        )  # not due yet
        assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=30)) == "pending"
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + timedelta(seconds=30 + 60)  # 30 s, then 60 s
        assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=90)) == "delivered"
        assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=500)) == "skipped"
    attempts = list(
        DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "ok")
    )
    assert attempts == [(1, 503, False), (2, 503, False), (3, 200, True)]
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    review.task.refresh_from_db()
    assert review.task.status == "reported", "the acknowledged report moves the task on"
    assert review.task.transitions.filter(from_status="approved", to_status="reported").count() == 1
    assert len(Upstream.requests) == 3
    signature, body = Upstream.requests[-1]
    assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert payload["task_id"] == review.task_id and payload["version"] == 1
    assert payload["pdf_url"].endswith(f"/reports/tasks/{review.task_id}/v1.pdf")
    assert "id_number" not in body.decode()


def test_an_unreachable_upstream_does_not_block_the_approval(review, cdc_expert):
    with override_settings(UPSTREAM_ENDPOINTS=["http://127.0.0.1:9/nowhere"], UPSTREAM_SECRET="x"):
        approve(review, cdc_expert)
        delivery = UpstreamDelivery.objects.get()
        assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    review.task.refresh_from_db()
    assert review.task.status == "approved"
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and "Error" in attempt.error


def test_the_push_log_page_shows_attempts_in_the_territory(
    client, review, cdc_expert, commander, outsider, password, upstream
):
    with override_settings(UPSTREAM_ENDPOINTS=[upstream], UPSTREAM_SECRET="s"):
        approve(review, cdc_expert)
        delivery_attempt(delivery_id=UpstreamDelivery.objects.get().pk)
    assert client.login(username=commander.username, password=password)
    assert upstream.encode() in client.get("/reports/deliveries/").content
    client.logout()
    assert client.login(username=outsider.username, password=password)
    assert upstream.encode() not in client.get("/reports/deliveries/").content
