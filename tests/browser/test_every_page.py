"""Every page of every demo role, in Chinese, in Chromium: the demo accounts and data of `seed_demo`, then
for each role a walk from its home page over the links it is shown (one page per URL shape). A page fails
when it lacks the main navigation, shows a raw status / source / field identifier in its zh-hans text,
or, for the phone roles at 360 px, is wider than the viewport. Screenshots of every page go to
test-artifacts/screenshots/."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tasks.models import Source, TaskStatus, TracingTask
from tests.browser.conftest import PHONE, login

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
ROLES = [
    ("duty", DESKTOP),
    ("city", DESKTOP),
    ("leader", PHONE),
    ("field", PHONE),
    ("expert", DESKTOP),
    ("commander", DESKTOP),
    ("auditor", DESKTOP),
    ("admin", DESKTOP),
]
PHONE_ROLES = {"leader", "field"}
MAX_PAGES = 45
# Links that are not pages to look at: downloads, the API, the Django admin, leaving.
SKIP = re.compile(r"(\.csv|\.pdf|\.xlsx|/export/|^/api/|^/admin/|/logout/|^/i18n/|^/n/|^/field/sw\.js)")
FIELD_NAMES = [
    "id_number",
    "division_code",
    "current_division_code",
    "external_id",
    "reported_at",
    "related_task",
    "radius_limited_at",
    "traced_at",
    "outside_assignee_territory",
    "upload",
]
STATUS_WORDS = [s for s in TaskStatus.values if s not in {"new"}] + list(Source.values)
RAW = re.compile(
    r"(?<![A-Za-z_/.\-])(" + "|".join(map(re.escape, FIELD_NAMES + STATUS_WORDS)) + r")(?![A-Za-z_])"
)
# "new" alone is an English word that a zh-hans page never shows either; checked as a whole token.
RAW_NEW = re.compile(r"(?<![A-Za-z_])new(?![A-Za-z_])")


def _routed(path: str) -> bool:
    """Whether the path has a view: the task page `/tasks/<id>/` is linked before it exists on every
    branch; a link to nowhere else would still fail the walk with its 404."""
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return not re.fullmatch(r"/tasks/\d+/", path)
    return True


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def _visible_text(page) -> str:
    # The watermark carries the username (ASCII) and is not part of the page's words.
    return page.evaluate(
        """() => { const hidden = [...document.querySelectorAll('.watermark, .who, .lang, [data-raw], code')];
        hidden.forEach(e => { e.dataset.display = e.style.display; e.style.display = 'none'; });
        const text = document.body.innerText;
        hidden.forEach(e => { e.style.display = e.dataset.display; });
        return text; }"""
    )


def _check_menus(page, username: str, screenshot, phone: bool) -> list[str]:
    """The main navigation is a few menus: on a desk screen (1366 px) one row that does not wrap, each
    menu a <details> opened by keyboard and closed by Escape; on a 360 px phone folded behind the "menu"
    button, unfolding without sideways scrolling. Screenshots of both, with a menu open, per role."""
    problems: list[str] = []
    tops = page.eval_on_selector_all(
        "nav.topnav > a, nav.topnav > details",
        "els => els.map(e => Math.round(e.getBoundingClientRect().top))",
    )
    if len(tops) > 8:
        problems.append(f"{username}: {len(tops)} entries in the top bar, more than 8")
    page.set_viewport_size({"width": 1366, "height": 900})
    tops = page.eval_on_selector_all(
        "nav.topnav > a, nav.topnav > details",
        "els => els.map(e => Math.round(e.getBoundingClientRect().top))",
    )
    if tops and max(tops) - min(tops) > 8:
        problems.append(f"{username}: the navigation wraps at 1366 px")
    menus = page.locator("nav.topnav details.navgroup")
    if menus.count():
        summary = menus.first.locator("summary")
        summary.focus()
        page.keyboard.press("Enter")
        if menus.first.get_attribute("open") is None:
            problems.append(f"{username}: a menu does not open from the keyboard")
        right = menus.first.locator(".navmenu").evaluate("e => e.getBoundingClientRect().right")
        if right > 1366:
            problems.append(f"{username}: an open menu leaves the screen at 1366 px")
    screenshot(page, f"{username}-nav-1366", full_page=False)
    if menus.count():
        page.keyboard.press("Escape")
        if menus.first.get_attribute("open") is not None:
            problems.append(f"{username}: Escape does not close a menu")
    page.set_viewport_size({"width": 360, "height": 740})
    toggle = page.locator("button.navtoggle")
    entries = page.locator("nav.topnav > a:not(.inbox), nav.topnav > details")
    if not toggle.is_visible():
        problems.append(f"{username}: no menu button at 360 px")
    else:
        if entries.count() and entries.first.is_visible():
            problems.append(f"{username}: the navigation is not folded at 360 px")
        toggle.click()
        if entries.count() and not entries.first.is_visible():
            problems.append(f"{username}: the menu button does not unfold the navigation")
        if menus.count():
            menus.last.locator("summary").click()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            problems.append(f"{username}: {width} px wide at 360 px with the menu open")
        screenshot(page, f"{username}-nav-360", full_page=False)
        toggle.click()
    page.reload()
    return problems


def _nav(page) -> set[str]:
    return set(page.eval_on_selector_all("nav.topnav a[href]", "els => els.map(e => e.getAttribute('href'))"))


def _extra_pages() -> list[str]:
    """Pages no link may lead to yet (reports, notices): visited when the role may see them."""
    from notices.models import Notice

    paths = ["/reviews/", "/notices/", "/audit/", "/duty/predicted-breaches/"]
    task = TracingTask.objects.filter(status="approved").first()
    if task is not None:
        paths += [f"/reports/tasks/{task.pk}/", f"/reports/tasks/{task.pk}/chain/", f"/search/?q=T{task.pk}"]
    notice = Notice.objects.first()
    if notice is not None:
        paths.append(f"/notices/{notice.pk}/")
    # An upload's job page is reached from the redirect after the upload, not from a link.
    from tasks.models import UploadJob

    job = UploadJob.objects.first()
    if job is not None:
        paths.append(f"/intake/upload/jobs/{job.token}/")
    return paths


def _walk(page, base: str, username: str, screenshot, phone: bool, seen_shapes: set[str]) -> list[str]:
    """Visit the pages of one role not yet seen in this device class (the same template shows the same
    words to every role; the navigation is checked on each page a role visits)."""
    problems: list[str] = []
    home = urlsplit(page.url).path or "/"
    expected_nav = _nav(page)
    extra = _extra_pages()
    queue = [home, *extra]
    tried: set[str] = set()
    visited = 0
    walked: list[str] = []
    while queue and visited < MAX_PAGES:
        path = queue.pop(0)
        if (_shape(path) in seen_shapes and path != home) or _shape(path) in tried:
            continue
        tried.add(_shape(path))
        response = page.goto(base + path)
        visited += 1
        status = response.status if response else 0
        if status < 400:
            seen_shapes.add(_shape(path))  # a page this role may not open is still walked by the next
        if status >= 400:
            if path not in extra:
                problems.append(f"{username} {path}: HTTP {status}")
            continue
        walked.append(path)
        screenshot(page, f"{username}-{_slug(path)}", full_page=phone)
        missing = expected_nav - _nav(page)
        if missing:
            problems.append(f"{username} {path}: main navigation lacks {sorted(missing)}")
        if path.split("?")[0] in expected_nav:
            current = page.eval_on_selector_all(
                'nav.topnav a[aria-current="page"]', "els => els.map(e => e.getAttribute('href'))"
            )
            if current != [path.split("?")[0]]:
                problems.append(f"{username} {path}: the navigation marks {current} as the current page")
        text = _visible_text(page)
        found = sorted(set(RAW.findall(text)) | ({"new"} if RAW_NEW.search(text) else set()))
        if found:
            problems.append(f"{username} {path}: raw identifiers {found}")
        if phone:
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["viewport"]["width"]:
                problems.append(f"{username} {path}: {width} px wide at 360 px")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or SKIP.search(parts.path):
                continue
            if re.search(r"(^|&)(export|format)=", parts.query):  # a download, not a page
                continue
            if not _routed(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query and "page=" not in parts.query else "")
            if _shape(target) not in seen_shapes:
                queue.append(target)
    print(f"{username} walked {len(walked)}: {' '.join(walked)}")
    return problems


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"


@pytest.fixture
def demo(hainan, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))


def test_every_page_of_every_role_has_the_navigation_and_chinese_words(
    demo, new_context, live_server, screenshot
):
    from reports.management.commands.seed_demo import DEMO_PASSWORD

    problems: list[str] = []
    seen = {"phone": set(), "desktop": set()}
    for username, shape in ROLES:
        context = new_context(**shape)
        page = context.new_page()
        login(page, live_server, username, DEMO_PASSWORD)
        phone = username in PHONE_ROLES
        problems += _check_menus(page, username, screenshot, phone)
        page.set_viewport_size(shape["viewport"])
        problems += _walk(
            page, live_server.url, username, screenshot, phone, seen["phone" if phone else "desktop"]
        )
        context.close()
    assert not problems, "\n".join(problems)
