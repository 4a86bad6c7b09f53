"""End-to-end journeys in headless Chromium, driven by Playwright (pytest-playwright fixtures).

* The browser is Debian's Chromium (`apt-get install chromium`), or whatever CHROMIUM_PATH names:
  Playwright's own browser download is not possible here. Without it every test in this folder is
  skipped with a message saying so.
* Every test here gets the `browser` marker: `pytest -m "not browser"` leaves them out.
* Pages come from pytest-django's `live_server`; the test settings must use plain StaticFilesStorage
  (STATIC_MANIFEST=false, as scripts/test.py sets).
* Fixtures: `page` (desktop, 1280x720, zh-CN), `phone_page` / `phone_context` (360x740 touch screen),
  `screenshot(page, name)` which saves test-artifacts/screenshots/<test>-<name>.png.
* Helper: `login(page, live_server, username, password)`: `from tests.browser.conftest import login`;
  it passes the second factor (TOTP enrolment or code) too, for the roles that need one.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API keeps an event loop running in the test thread, and Django's ORM refuses to
# run where a loop runs (SynchronousOnlyOperation) unless this is set. Set at import, before any fixture
# (session fixtures such as django_db_setup may run after the browser has started).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's probe runs it: no sandbox (root), no GPU, and nothing that calls out to Google
# (the network is closed: without these flags Chromium keeps retrying connections at every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "screen": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
LOGIN_PATH = "/accounts/login/"


def chromium_available() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


def pytest_configure(config):
    # pytest-playwright 0.10's fallback `base_url` fixture (used without pytest-base-url) is an instance
    # method, which pytest 9 deprecates: not ours to fix.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning",
    )
    # Playwright's own artifacts (--screenshot/--video/--tracing) go beside ours, not to ./test-results.
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ARTIFACTS / "playwright")


def pytest_collection_modifyitems(config, items):
    missing = None
    if not chromium_available():
        missing = pytest.mark.skip(
            reason=f"Chromium not found at {CHROMIUM}: browser tests need it. Install it with "
            f"`apt-get install chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium binary."
        )
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if missing is not None:
                item.add_marker(missing)


# ---- pytest-playwright overrides ------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The users read Chinese: ask for it as their browsers do (LocaleMiddleware reads Accept-Language).
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


# ---- our fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _plain_http_settings():
    """live_server is plain HTTP: with the production HTTPS settings every page turns into a redirect
    to https:// that the browser cannot follow. scripts/test.py sets these; say so when run otherwise."""
    from django.conf import settings

    wrong = [
        name
        for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
        if getattr(settings, name, False)
    ]
    if wrong:
        pytest.fail(
            f"browser tests need plain-HTTP settings, but {', '.join(wrong)} is on: run them with "
            f"`python3 scripts/test.py`, or set {'=false '.join(wrong)}=false in the environment.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live_server; with the production static settings (STATIC_MANIFEST on, after
    collectstatic, as tests/test_reliability_static.py runs a journey) static files are left to
    WhiteNoise, which serves the hashed names from STATIC_ROOT as in production, instead of the test
    server's finder-based handler, which knows only the unhashed names."""
    from django.conf import settings
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    )
    server = LiveServer(addr, start=False)
    serve_static = server.thread.static_handler
    if "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]:
        serve_static = lambda handler: handler  # noqa: E731
    server.in_flight = _InFlightRequests()
    server.thread.static_handler = lambda handler: server.in_flight.wrap(serve_static(handler))
    server.start()
    yield server
    server.stop()


class _InFlightRequests:
    """Counts the requests the live server is handling. A page the test has left may still have a
    request in a server thread (a prefetch, a poll, a service worker fetch); the test database's flush
    must wait for it, or the flush's TRUNCATE and that request's row locks deadlock."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def wrap(self, app):
        def counted(environ, start_response):
            self._enter()
            try:
                return _ClosingBody(app(environ, start_response), self._leave)
            except BaseException:
                self._leave()
                raise

        return counted

    def _enter(self) -> None:
        with self._idle:
            self._count += 1

    def _leave(self) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=timeout)


class _ClosingBody:
    """The response body, counted until the server has written it and closed it (Django's close()
    sends request_finished, which closes the thread's database connection)."""

    def __init__(self, body, on_close) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._on_close()


@pytest.fixture(autouse=True)
def _live_server_idle_before_flush(request):
    """Set up after the test database (so torn down before its flush) and before the test's browser
    contexts (so torn down after they close): waits for the requests still running in the server."""
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    server = request.getfixturevalue("live_server")
    yield
    if not server.in_flight.wait_idle(timeout=30):
        pytest.fail("the live server still handles a request 30 s after the test ended", pytrace=False)


@pytest.fixture
def phone_context(new_context):
    """A browser context shaped like a small Android phone (360x740 CSS pixels, touch)."""
    return new_context(**PHONE)


@pytest.fixture
def phone_page(phone_context):
    return phone_context.new_page()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "page"


@pytest.fixture
def screenshot(request):
    """`screenshot(page, "name")` saves test-artifacts/screenshots/<test name>-<name>.png (full page)."""

    def take(page, name: str = "", *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stem = _slug(request.node.name) + (f"-{_slug(name)}" if name else "")
        path = SCREENSHOTS / f"{stem}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


# ---- helpers ----------------------------------------------------------------------------------------


def _second_factor_paths() -> set[str]:
    from django.urls import NoReverseMatch, reverse

    paths = set()
    for name in ("otp_verify", "otp_setup"):
        try:
            paths.add(reverse(name))
        except NoReverseMatch:
            pass
    return paths


def _current_totp_code(username: str) -> str:
    """The code the account's authenticator app shows now (what a person would read off the phone)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user__username=username).order_by("-confirmed", "id").first()
    if device is None:
        raise AssertionError(f"{username!r} is asked for a second factor but has no TOTP device")
    try:
        from tasks.twofactor import current_code
    except ImportError:  # the same computation with django-otp alone
        from django_otp.oath import TOTP

        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        return str(totp.token()).zfill(device.digits)
    return current_code(device)


def _enrolled(username: str) -> None:
    """A journey's staff member has long enrolled their authenticator (enrolment itself needs the
    administrator's enrolment code and is walked in test_security_2fa)."""
    from tasks.models import User
    from tasks.security import otp_required
    from tasks.twofactor import ensure_confirmed_device

    user = User.objects.filter(username=username).first()
    if user is not None and otp_required(user):
        ensure_confirmed_device(user)


def login(page, live_server, username: str, password: str, *, expect_success: bool = True):
    """Log in through the real login page, as a person would, including the second factor (TOTP
    enrolment or code) for the roles that need one. Returns the page, where the login led to. With
    expect_success (the default), fails with the page's message if the login does not get through."""
    base = live_server.url if hasattr(live_server, "url") else str(live_server)
    if expect_success:
        _enrolled(username)
    page.goto(f"{base}{LOGIN_PATH}")
    form = page.locator("form").filter(has=page.locator("input[name=password]"))
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("button[type=submit], input[type=submit]").first.click()
    if not expect_success:
        return page

    if urlsplit(page.url).path in _second_factor_paths():
        form = page.locator("form").filter(has=page.locator("input[name=otp_token]"))
        form.locator("input[name=otp_token]").fill(_current_totp_code(username))
        with page.expect_navigation():
            form.locator("button[type=submit], input[type=submit]").first.click()

    if urlsplit(page.url).path in {LOGIN_PATH, *_second_factor_paths()}:
        alert = page.locator("[role=alert], .errorlist, .error")
        message = alert.first.inner_text() if alert.count() else "(no message shown)"
        raise AssertionError(f"login as {username!r} did not get through: still on {page.url}: {message}")
    return page


def nav(page, menu: str, item: str | None = None):
    """Follow an entry of the main navigation as a person would: on a phone open the "menu" button
    first, then the menu `menu` and its entry `item`. A menu with one entry is drawn as that entry's
    link, so `nav(page, "任务", "我的任务")` works for a field worker too; `nav(page, "通知")` follows a
    plain top-bar link."""
    bar = page.locator("nav.topnav")
    toggle = page.locator("button.navtoggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    exact = re.compile(rf"^\s*{re.escape(menu)}(\s+\d+)?\s*$")
    group = bar.locator("details.navgroup").filter(has=page.locator("summary", has_text=exact))
    target = item or menu
    with page.expect_navigation():
        if group.count():
            if group.first.get_attribute("open") is None:
                group.first.locator("summary").click()
            group.first.get_by_role("link", name=target, exact=True).click()
        else:
            bar.get_by_role("link", name=re.compile(rf"^\s*{re.escape(target)}(\s+\d+)?\s*$")).first.click()
    return page
