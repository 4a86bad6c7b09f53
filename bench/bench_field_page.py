"""Page weight of "my tasks" (/field/, issue 5) on first load: target under 200 KB transferred.

A field account with 20 open tasks (× scale) in its village opens /field/ through Django's test client
(the real middleware stack, static files served by WhiteNoise from the finders). Counted: the HTML, every
stylesheet and script the page links, and the service worker script it registers — uncompressed (the
worst case: no gzip on the way) and gzip-compressed (what a proxy or WhiteNoise's compressed files send).
Later loads fetch only the HTML: the shell comes from the service worker's cache.
"""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from bench.harness import HAINAN_CSV

VILLAGE = "460105001001"
ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


def _setup(n: int):
    from tasks import workflow
    from tasks.models import (
        Division,
        IntakeBatch,
        Person,
        Priority,
        Role,
        TracingTask,
        Unit,
        UnitMembership,
        User,
    )

    if not Division.objects.filter(code=VILLAGE).exists():
        call_command("load_divisions", str(HAINAN_CSV), "--with-teams", verbosity=0)
    user = User.objects.filter(username="bench-field").first() or User.objects.create_user(
        username="bench-field",
        password="Bench-Field-Password-42",
        role=Role.FIELD_STAFF,
        division_id=VILLAGE,
        full_name="网格员基准",
    )
    UnitMembership.objects.get_or_create(
        unit=Unit.objects.get(kind="subunit", division_id=VILLAGE), user=user
    )
    batch = IntakeBatch.objects.create(
        started_at=timezone.now() - timedelta(minutes=5), status=IntakeBatch.Status.FINISHED
    )
    for i in range(n):
        person = Person.objects.create(
            person_key=f"bench-field:{i}", name=f"测试人员{i}", phone=f"139{i:08d}"
        )
        task = TracingTask.objects.create(
            person=person, priority=Priority.CLOSE_CONTACT + i % 4, division_id=VILLAGE, batch=batch
        )
        workflow.task_dispatch(task=task)
    return user


def _get(client: Client, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def run(bench):
    n = bench.scaled(20)
    user = _setup(n)
    with override_settings(
        ALLOWED_HOSTS=["*"],
        SECURE_SSL_REDIRECT=False,
        WHITENOISE_USE_FINDERS=True,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ):
        client = Client()
        client.force_login(user)
        html = _get(client, "/field/")
        cards = html.count(b'data-testid="field-task"')
        assets = {url: _get(client, url) for url in ASSET.findall(html.decode())}
        sw = _get(client, "/field/sw.js")
    files = {"/field/ (HTML)": html, **assets, "/field/sw.js": sw}
    raw = sum(len(body) for body in files.values())
    zipped = sum(len(gzip.compress(body, 6)) for body in files.values())
    for name, body in files.items():
        bench.note(f"{name}: {len(body) / 1024:.1f} KB ({len(gzip.compress(body, 6)) / 1024:.1f} KB gzip)")
    bench.report(
        f"my tasks first load, {cards} tasks: HTML+CSS+JS+service worker, uncompressed",
        raw / 1024,
        "KB",
        target=200,
        better="lower",
    )
    bench.report("my tasks first load, gzip-compressed", zipped / 1024, "KB", target=200, better="lower")
    bench.report(
        "my tasks later load (shell cached): HTML only, gzip",
        len(gzip.compress(html, 6)) / 1024,
        "KB",
        better="lower",
    )
