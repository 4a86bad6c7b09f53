"""The data-lifecycle registry (tasks/lifecycle.py): every model holding personal data says how it is
purged, re-encrypted or why it is neither; the base app imports none of the apps built on it; the
migrations run no app code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

from tasks import lifecycle
from tasks.crypto import is_encrypted_field

ROOT = Path(__file__).resolve().parent.parent

# Words of a field name that say "about a person" (split on "_"), and names that contain them whole.
PERSONAL_WORDS = {
    "name",
    "address",
    "phone",
    "companions",
    "note",
    "text",
    "comment",
    "body",
    "reason",
    "reasons",
    "answer",
    "activity",
    "seat",
    "place",
    "site",
    "email",
    "payload",
    "row",
    "variables",
    "params",
    "data",
    "details",
    "changes",
    "repr",
}
PERSONAL_PARTS = ("id_number", "phone")
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def personal_fields(model: type[models.Model]) -> set[str]:
    """The fields of `model` that hold, or may hold, personal data: encrypted ones, and text or JSON
    fields named like a name, an address, a phone, an ID number or free text."""
    found = set()
    for field in model._meta.concrete_fields:
        if is_encrypted_field(field):
            found.add(field.name)
        elif isinstance(field, TEXT_FIELDS) and (
            set(field.name.split("_")) & PERSONAL_WORDS or any(p in field.name for p in PERSONAL_PARTS)
        ):
            found.add(field.name)
    return found


def test_the_classifier_sees_names_addresses_phones_free_text_and_encrypted_fields():
    from tasks.models import CloseContact, Division, IntakeBatch

    assert personal_fields(CloseContact) == {"name", "id_number", "phone", "last_contact_place", "address"}
    assert personal_fields(Division) == {"name"}
    assert personal_fields(IntakeBatch) == set()


def test_every_model_with_personal_data_is_registered_with_a_purge_a_rotation_or_an_exemption():
    missing = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = personal_fields(model)
        if not fields:
            continue
        registration = lifecycle.registration_for(model)
        if registration is None:
            missing.append(f"{model._meta.label}: {sorted(fields)} (not registered)")
            continue
        if not (registration.purges or registration.reencrypt or registration.exempt):
            missing.append(f"{model._meta.label}: neither purged, re-encrypted nor exempt")
    assert not missing, "register these in the app's AppConfig.ready (docs/lifecycle.md):\n" + "\n".join(
        missing
    )


def test_a_purged_model_accounts_for_each_of_its_personal_fields():
    """A new personal field on a registered model cannot slip past the purge: the registration must
    clear it, scrub it from the change history, or keep it with a reason."""
    unaccounted = []
    for registration in lifecycle.registrations():
        if not registration.where:  # exemptions, and sweeps that delete whole rows
            continue
        left = personal_fields(registration.model) - registration.declared_fields()
        if left:
            unaccounted.append(f"{registration.label}: {sorted(left)}")
    assert not unaccounted, "clear or keep (with a reason) these fields:\n" + "\n".join(unaccounted)


def test_every_encrypted_field_is_re_encrypted_by_the_key_rotation():
    missing = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if is_encrypted_field(field) and not getattr(lifecycle.registration_for(model), "reencrypt", None)
    ]
    assert not missing


def test_every_exemption_says_why():
    for registration in lifecycle.registrations():
        if not (registration.purges or registration.reencrypt):
            assert len(registration.exempt) >= 15, registration.label
        for name, reason in registration.keep.items():
            assert len(reason) > 10, (registration.label, name)


def test_registrations_name_real_columns():
    for registration in lifecycle.registrations():
        columns = {f.column for f in registration.model._meta.concrete_fields}
        assert set(registration.clear) <= columns, registration.label
        names = {f.name for f in registration.model._meta.concrete_fields}
        assert set(registration.keep) | set(registration.history) <= names | columns, registration.label


def test_the_upper_apps_register_what_they_hold():
    labels = {r.label for r in lifecycle.registrations()}
    assert {"reports.ReportVersion", "reviews.ReviewComment", "reviews.Finding"} <= labels
    assert {"Notice", "NoticeFeedback", "NoticeFollowUp"} <= {
        r.model.__name__ for r in lifecycle.registrations()
    }
    rotation = [r.table for r in lifecycle.registrations() if r.reencrypt]
    # The order the command reports its tables in: the base app first.
    assert rotation == [
        "tasks_person",
        "tasks_lead",
        "tasks_tracingtask",
        "tasks_closecontact",
        "tasks_trajectoryentry",
        "tasks_radiuscontrol",
        "tasks_registration",
        "tasks_leadrejection",
        "reviews_finding",
        "monitoring_labresult",
        "reports_reportversion",
    ]


def test_a_second_different_registration_of_a_model_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    from tasks.models import Person

    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        lifecycle.register(Person, exempt="a different registration of the same model")


# --- one-way dependencies ---------------------------------------------------------------------------------


def _imports(folder: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(ROOT)), node.lineno, node.module))
    return found


def test_tasks_imports_none_of_the_apps_built_on_it():
    upward = [
        i for i in _imports("tasks") if re.match(r"(reviews|monitoring|reports|notices|duty)(\.|$)", i[2])
    ]
    assert not upward


def test_reviews_imports_neither_reports_nor_notices():
    upward = [i for i in _imports("reviews") if re.match(r"(reports|notices|monitoring|duty)(\.|$)", i[2])]
    assert not upward


def test_migrations_run_no_app_code():
    """Migrations name custom field classes by their import path (Django's migration state needs it)
    and import nothing else of the apps: the code they run is frozen in them."""
    apps_code = re.compile(r"(tasks|reviews|monitoring|reports|notices|duty)(\.|$)")
    allowed = {"tasks.crypto", "reports.models", "tasks.models", "reviews.models"}
    offending = []
    for folder in ("tasks", "reviews", "monitoring", "reports", "notices", "duty"):
        if not (ROOT / folder / "migrations").is_dir():
            continue
        for path, line, module in _imports(f"{folder}/migrations"):
            if apps_code.match(module) and module not in allowed:
                offending.append((path, line, module))
    assert not offending
    for path in ROOT.glob("*/migrations/*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                inner = [a.name for n in ast.walk(node) if isinstance(n, ast.Import) for a in n.names]
                inner += [n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.level == 0]
                assert not [m for m in inner if m and apps_code.match(m)], (path.name, node.name)


@pytest.mark.django_db
def test_the_frozen_snapshot_migration_writes_the_envelopes_the_app_reads(review_task):
    """reports/0003 carries its own copy of the encryption: what it writes, tasks.crypto decrypts."""
    import importlib
    import json
    from types import SimpleNamespace

    from django.db import connection

    from reports.models import ReportVersion
    from tasks.crypto import PREFIX, decrypt

    data = {"person": {"name": "张三", "id_number": "460105199001011234", "phone": "13907550001"}}
    data["contacts"] = [{"name": "李四", "id_number": "", "phone": "13907559999"}]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_reportversion (task_id, number, reason, data, digest, created_at) "
            "VALUES (%s, 1, 'approval', %s::jsonb, 'x', now()) RETURNING id",
            [review_task.pk, json.dumps(data, ensure_ascii=False)],
        )
        pk = cursor.fetchone()[0]
    migration = importlib.import_module("reports.migrations.0003_encrypt_snapshot_identity")
    migration.encrypt_existing(None, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM reports_reportversion WHERE id = %s", [pk])
        raw = cursor.fetchone()[0]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert raw["person"]["id_number"].startswith(PREFIX) and raw["contacts"][0]["phone"].startswith(PREFIX)
    assert raw["person"]["name"] == "张三" and raw["contacts"][0]["id_number"] == ""
    assert decrypt(raw["person"]["id_number"]) == "460105199001011234"
    assert ReportVersion.objects.get(pk=pk).data["contacts"][0]["phone"] == "13907559999"


@pytest.fixture
def review_task(hainan):
    from tests.factories import TracingTaskFactory

    return TracingTaskFactory()


def test_monitoring_imports_neither_notices_nor_reports():
    upward = [i for i in _imports("monitoring") if re.match(r"(reports|notices|duty)(\.|$)", i[2])]
    assert not upward


def test_nothing_imports_the_duty_app():
    for folder in ("tasks", "reviews", "monitoring", "notices", "reports"):
        upward = [i for i in _imports(folder) if re.match(r"duty(\.|$)", i[2])]
        assert not upward, folder
