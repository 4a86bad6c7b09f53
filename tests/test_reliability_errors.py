"""Debug pages and error reports never show a password carried inside a URL setting or variable."""

from __future__ import annotations

import sys

from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

# Built from pieces: the debug page quotes the source lines around the failing frame (these, too).
REDIS_PASSWORD, DATABASE_PASSWORD = "redis-pass-" + "1234", "db-pass-" + "5678"
REDIS = f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"
DATABASE = f"postgres://tracing:{DATABASE_PASSWORD}@db.example:5432/tracing_center"


def _debug_page() -> str:
    request = RequestFactory().get("/somewhere/", DATABASE_URL=DATABASE)
    broker = REDIS  # a local variable of the failing frame  # noqa: F841
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_html() + reporter.get_traceback_text()


def test_url_passwords_are_cleansed_from_the_debug_page():
    with override_settings(DEBUG=True, REDIS_URL=REDIS, CELERY_BROKER_URL=REDIS, DATABASE_URL=DATABASE):
        page = _debug_page()
    assert REDIS_PASSWORD not in page and DATABASE_PASSWORD not in page
    assert "redis://:********************@127.0.0.1:6379/0" in page  # the rest stays readable
    assert "tracing:********************@db.example" in page
