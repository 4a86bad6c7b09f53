"""The parallel test run: how scripts/test.py picks the pytest-xdist workers, and the Redis database each
worker takes (docs/operations.md, "Parallel tests")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tracing_center.env import redis_for_test_worker, xdist_worker_index

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import parallel_tests  # noqa: E402

ENV = {"REDIS_URL": "redis://127.0.0.1:6379/1"}


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(parallel_tests, "cores", lambda: 2)


def test_the_whole_suite_runs_on_every_core(two_cores):
    assert parallel_tests.xdist_arguments([], ENV) == ["-n", "2", "--dist", "loadgroup"]
    # options that pick no tests keep it parallel, also an option's value that happens to be a word
    args = ["--create-db", "--durations=25", "-p", "no:cacheprovider", "-x", "--maxfail", "3"]
    assert parallel_tests.xdist_arguments(args, ENV)[:2] == ["-n", "2"]


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "layering"],
        ["-klayering"],
        ["-m", "not browser"],
        ["--lf"],
        ["tests/test_settings_env.py"],
        ["tests/test_settings_env.py::test_x", "-q"],
        ["-q", "tests/browser"],
    ],
)
def test_a_selection_runs_in_one_process(two_cores, args):
    assert parallel_tests.xdist_arguments(args, ENV) == []


def test_the_count_can_be_set(two_cores):
    assert parallel_tests.xdist_arguments(["-k", "x"], {**ENV, "TEST_WORKERS": "3"})[:2] == ["-n", "3"]
    assert parallel_tests.xdist_arguments([], {**ENV, "TEST_WORKERS": "0"}) == []
    assert parallel_tests.xdist_arguments([], {**ENV, "TEST_WORKERS": "1"}) == []
    # an explicit -n is the user's: only the grouping is added
    assert parallel_tests.xdist_arguments(["-n", "0"], ENV) == ["--dist", "loadgroup"]
    assert parallel_tests.xdist_arguments(["-n3", "--dist=load"], ENV) == []
    assert parallel_tests.xdist_arguments(["-p", "no:xdist"], ENV) == []
    with pytest.raises(SystemExit, match="TEST_WORKERS"):
        parallel_tests.xdist_arguments([], {**ENV, "TEST_WORKERS": "auto"})


def test_the_workers_never_run_past_the_last_redis_database(monkeypatch):
    monkeypatch.setattr(parallel_tests, "cores", lambda: 64)
    assert parallel_tests.xdist_arguments([], ENV)[:2] == ["-n", str(parallel_tests.MAX_WORKERS)]
    assert parallel_tests.xdist_arguments([], {"REDIS_URL": "redis://h:6379/14"})[:2] == ["-n", "2"]
    assert parallel_tests.xdist_arguments([], {"REDIS_URL": "redis://h:6379/15"}) == []


@pytest.mark.parametrize(
    ("worker", "url", "expected"),
    [
        ("", "redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1"),
        ("gw0", "redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1"),
        ("gw1", "redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/2"),
        ("gw1", "redis://:secret@127.0.0.1:6379", "redis://:secret@127.0.0.1:6379/1"),
        ("gw3", "rediss://h:6380/10?ssl_cert_reqs=none", "rediss://h:6380/13?ssl_cert_reqs=none"),
    ],
)
def test_each_worker_takes_its_own_redis_database(monkeypatch, worker, url, expected):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert redis_for_test_worker("REDIS_URL", url) == expected


def test_a_worker_past_the_last_redis_database_is_refused(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    with pytest.raises(ImproperlyConfigured, match="database 16"):
        redis_for_test_worker("REDIS_URL", "redis://127.0.0.1:6379/14")
    with pytest.raises(ImproperlyConfigured, match="redis://host:port/db"):
        redis_for_test_worker("REDIS_URL", "redis+socket:///run/redis.sock")


def test_this_run_uses_the_database_of_its_worker():
    from django.conf import settings

    from tracing_center.celery import app

    index = xdist_worker_index() or 0
    assert parallel_tests.redis_database(settings.REDIS_URL) >= index
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    if index:
        assert settings.CELERY_BEAT_SCHEDULE_FILENAME.endswith(f"-gw{index}")
