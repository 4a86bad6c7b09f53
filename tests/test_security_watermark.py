"""The viewer's watermark on every logged-in page (issue 9)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tasks.watermark import watermark_text
from tests.factories import TracingTaskFactory

MOMENT = dt.datetime(2026, 11, 1, 8, 5, tzinfo=dt.UTC)  # 16:05 in Asia/Shanghai


def test_watermark_text_names_the_viewer_account_and_local_time(duty_officer):
    assert watermark_text(duty_officer, MOMENT) == "值班员甲 · alice · 2026-11-01 16:05"


def _watermark(html: str) -> str:
    assert 'data-testid="watermark"' in html, "no watermark on the page"
    return html.split('data-watermark="')[1].split('"')[0]


@pytest.mark.parametrize("url_name", ["home", "audit_log"])
def test_logged_in_pages_carry_the_watermark(client, auditor, password, url_name):
    client.login(username=auditor.username, password=password)
    with time_machine.travel(MOMENT, tick=False):
        html = client.get(reverse(url_name)).content.decode()
    assert _watermark(html) == "审计员庚 · audrey · 2026-11-01 16:05"
    assert html.count("审计员庚 · audrey · 2026-11-01 16:05</span>") > 20  # tiled over the page


def test_the_revealed_data_page_carries_the_watermark(client, duty_officer, password):
    task = TracingTaskFactory()
    client.login(username=duty_officer.username, password=password)
    html = client.post(reverse("task_reveal", kwargs={"pk": task.pk}), {"reason": "核实"}).content.decode()
    assert _watermark(html).startswith("值班员甲 · alice · ")


def test_the_browsable_api_carries_the_watermark(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    html = client.get(reverse("api-me"), HTTP_ACCEPT="text/html").content.decode()
    assert _watermark(html).startswith(f"{field_staff.display_name} · bob · ")


def test_the_admin_carries_the_watermark(client, hainan, password):
    from tests.factories import UserFactory

    admin = UserFactory(username="root", role="admin", division_id="46", is_staff=True, is_superuser=True)
    client.login(username=admin.username, password=password)
    html = client.get("/admin/").content.decode()
    assert _watermark(html).startswith(f"{admin.display_name} · root · ")


def test_anonymous_pages_have_no_watermark(client, db):
    assert 'data-testid="watermark"' not in client.get(reverse("login")).content.decode()


def test_a_page_can_opt_out_through_the_watermark_block(rf, duty_officer):
    from django.template import engines

    template = engines["django"].from_string('{% extends "base.html" %}{% block watermark %}{% endblock %}')
    request = rf.get("/")
    request.user = duty_officer
    assert 'data-testid="watermark"' not in template.render({"user": duty_officer}, request)
