import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tracing_center.env import env_bool, env_choice, env_database, env_int, env_list, env_redis


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("Yes", True), ("off", False), ("0", False)]
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is expected


def test_env_bool_fails_loudly_on_a_typo(monkeypatch):
    monkeypatch.setenv("DEBUG", "flase")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='flase' is not a boolean"):
        env_bool("DEBUG", False)


def test_a_required_variable_must_be_set(monkeypatch):
    monkeypatch.delenv("SOMETHING_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SOMETHING_REQUIRED is required"):
        env_int("SOMETHING_REQUIRED")


def test_env_int_checks_its_minimum(monkeypatch):
    monkeypatch.setenv("WINDOW", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env_int("WINDOW", minimum=1)
    monkeypatch.setenv("WINDOW", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("WINDOW")


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS") == ["a.example", "b.example"]


def test_env_choice_refuses_a_value_outside_its_choices(monkeypatch):
    monkeypatch.setenv("MODE", "leader")
    assert env_choice("MODE", "least_load", ["least_load", "leader"]) == "leader"
    monkeypatch.setenv("MODE", "leaders")
    with pytest.raises(ImproperlyConfigured, match="MODE='leaders' must be one of"):
        env_choice("MODE", "least_load", ["least_load", "leader"])


def test_every_environment_variable_is_in_the_settings_table():
    root = Path(__file__).resolve().parent.parent
    source = (root / "tracing_center" / "settings.py").read_text(encoding="utf-8")
    table = (root / "docs" / "settings.md").read_text(encoding="utf-8")
    variables = set(re.findall(r'env_[a-z]+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"DEBUG", "DISPATCH_ASSIGN_MODE", "NOTICE_ESCALATE_MINUTES"} <= variables
    documented = set(re.findall(r"^\|[^|]*\| `([A-Z][A-Z0-9_]*)` \|", table, re.M))
    assert variables - documented == set()


def test_only_postgresql_is_accepted(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///db.sqlite3")
    with pytest.raises(ImproperlyConfigured, match="must be a PostgreSQL URL"):
        env_database()
    monkeypatch.setenv("DATABASE_URL", "postgres://u@/tc?host=/tmp/sock")
    config = env_database()
    assert config["NAME"] == "tc" and config["HOST"] == "/tmp/sock"


def test_redis_urls_are_checked(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="must be a Redis URL"):
        env_redis("REDIS_URL")


def test_time_zone_and_language(settings):
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ
    assert settings.LANGUAGE_CODE == "zh-hans"


@pytest.mark.django_db
def test_connections_run_without_jit_compilation():
    # The bulk statements (intake, dispatch, sweep) would each spend about a second compiling.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
