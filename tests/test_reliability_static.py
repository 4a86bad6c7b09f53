"""Production static settings: collectstatic + WhiteNoise's manifest storage (STATIC_MANIFEST on).

The rest of the suite runs with the manifest off (live_server serves from the finders), which hid a
500 of /field/sw.js that only the manifest storage raises. Here the files are collected once into a
temporary STATIC_ROOT; the service worker is fetched with the manifest storage, and the field journey
(which installs the service worker and works offline) runs in a separate pytest process with the
production static settings and its own test database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.test import override_settings

from tests.browser.conftest import chromium_available

# In a parallel run both tests go to one worker: the collected files (a module fixture) are made once.
pytestmark = pytest.mark.xdist_group("static-collect")

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def production_static(static_root: Path) -> dict[str, str]:
    # Hashed names and the manifest as in production; without the gzip/brotli copies, which change
    # nothing in the names and take minutes to make on a busy machine.
    return {"STATIC_MANIFEST": "true", "STATIC_COMPRESS": "false", "STATIC_ROOT": str(static_root)}


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    static_root = tmp_path_factory.mktemp("staticfiles")
    env = {**os.environ, **production_static(static_root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    assert (static_root / "staticfiles.json").exists()
    return static_root


def test_the_service_worker_is_served_with_the_manifest_storage(client, collected):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": MANIFEST_STORAGE},
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=collected):
        response = client.get("/field/sw.js")
    assert response.status_code == 200, response.content[:300]
    body = response.content.decode()
    assert "var STATIC_PREFIX = '/static/';" in body
    # The shell it caches is the hashed files the pages link to.
    assert re.search(r"/static/field/field\.[0-9a-f]{12}\.css", body), body


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="Chromium not found: browser tests need it")
def test_the_field_journey_with_production_static_settings(collected):
    url = urlsplit(os.environ["DATABASE_URL"])
    database = url.path.lstrip("/") + "_static"  # pytest-django makes test_<this>: not the suite's database
    env = {
        **os.environ,
        **production_static(collected),
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{database}")),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--create-db",
            "tests/browser/test_field_journey.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
