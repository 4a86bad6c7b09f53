"""HTTP hardening: CSP without inline script, headers, CSRF on every form, `check --deploy` clean."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]


def _templates():
    for folder in TEMPLATE_DIRS:
        yield from sorted(p for p in folder.rglob("*.html") if ".venv" not in p.parts)


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_pages_carry_a_strict_content_security_policy(client, duty_officer, password):
    for response in (client.get(reverse("login")),):
        policy = _csp(response)
        assert policy["script-src"] == "script-src 'self'"
        assert policy["style-src"] == "style-src 'self'"
        assert policy["object-src"] == "object-src 'none'"
        assert policy["frame-ancestors"] == "frame-ancestors 'none'"
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert "unsafe-eval" not in response["Content-Security-Policy"]
    client.login(username=duty_officer.username, password=password)
    assert "script-src 'self'" in client.get(reverse("home"))["Content-Security-Policy"]


def test_api_docs_load_their_script_from_a_url_not_inline(client, duty_officer, password):
    client.login(username=duty_officer.username, password=password)
    html = client.get(reverse("api-docs")).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html)


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"<[^>]*\sstyle\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


@pytest.mark.parametrize("path", list(_templates()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_event_handlers_or_style_attributes(path):
    text = path.read_text(encoding="utf-8")
    problems = []
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("on...= event handler", EVENT_HANDLER),
        ("style= attribute", STYLE_ATTR),
        ("javascript: URL", JS_URL),
    ):
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{name} at line {line}: {match.group(0)[:80]}")
    assert not problems, f"{path.relative_to(ROOT)} breaks the CSP (move it to static/ files):\n" + "\n".join(
        problems
    )


FORM_POST = re.compile(r"<form\b[^>]*\smethod=[\"']post[\"'][^>]*>(.*?)</form>", re.I | re.S)


@pytest.mark.parametrize("path", list(_templates()), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_post_form_has_a_csrf_token(path):
    text = path.read_text(encoding="utf-8")
    for match in FORM_POST.finditer(text):
        body = match.group(1)
        assert "csrf_token" in body, f"{path.relative_to(ROOT)}: a POST form without {{% csrf_token %}}"


def test_the_csrf_middleware_is_on(settings):
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_pages_send_the_hardening_headers(client, field_staff, password):
    client.login(username=field_staff.username, password=password)
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "microphone=()" in response["Permissions-Policy"]
    # A logged-in page is not kept by the browser or a proxy.
    assert "no-store" in response["Cache-Control"]


def test_session_and_csrf_cookies_are_http_only_where_it_matters(settings):
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"


PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#Qm2!vR9zL4@kP8sT1&wY6^nB3*eH5(jD0)cF-gA_uI+oZ[rX]yV{lN}q" * 2,
    "ALLOWED_HOSTS": "tracing.example.gov.cn",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "STATIC_MANIFEST": "false",
}


def _run(args, **extra_env):
    env = {**os.environ, **PRODUCTION_ENV, **extra_env}
    # The test-only relaxations (plain HTTP, and the browser tests' async-unsafe flag) are not production.
    for name in (
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output


def test_check_deploy_security_checks_are_clean_with_production_settings():
    """The security-tagged part of the above (Django's deployment checks, django-axes): independent of
    the API schema warnings drf-spectacular adds to `check --deploy`."""
    result = _run(["check", "--deploy", "--tag", "security", "--fail-level", "WARNING"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output


def test_production_settings_redirect_to_https_and_send_hsts():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER, "
        "'upgrade-insecure-requests' in s.CONTENT_SECURITY_POLICY['DIRECTIVES'])"
    )
    result = _run(["shell", "-c", code])
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "True True True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https') True"
    )


def test_a_malformed_proxy_header_setting_fails_loudly():
    result = _run(["check"], SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in result.stderr
