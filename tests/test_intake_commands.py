"""import_leads and run_intake, the command-line side of the intake."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import translation
from openpyxl import Workbook

from tasks.models import IntakeBatch, Lead, LeadRejection, TracingTask
from tests.intake_helpers import HOME_VILLAGE, lead

# Request the test database statically (reaching it only through `hainan` is not enough).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    # Commands run in the active language (Chinese once the catalogue is compiled); assert on English.
    with translation.override("en"):
        yield


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_import_leads_reads_a_csv_and_lists_rejected_lines(hainan, tmp_path):
    path = tmp_path / "leads.csv"
    rows = [lead(source=None) for _ in range(3)]
    lines = ["external_id,id_number,name,division_code,reported_at"]
    lines += [
        f"{r['external_id']},{r['id_number']},{r['name']},{r['division_code']},{r['reported_at']}"
        for r in rows
    ]
    lines.append("bad-1,110105194912310023,李四,460105001001,2024-05-01T08:00:00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = run("import_leads", str(path), "--source", "returnee", "--chunk-size", "2")
    assert "accepted 3, duplicates 0, rejected 1" in output
    assert "line 5: id_number: check digit should be X, got 3" in output
    assert set(Lead.objects.values_list("source", flat=True)) == {"returnee"}
    assert LeadRejection.objects.get().row_index == 5
    assert "accepted 0, duplicates 3, rejected 1" in run("import_leads", str(path), "--source", "returnee")


def test_import_leads_reads_an_xlsx(hainan, tmp_path):
    workbook = Workbook()
    workbook.active.append(["source", "external_id", "id_number", "division_code", "reported_at"])
    workbook.active.append(["big_data", "b-1", lead()["id_number"], HOME_VILLAGE, "2024-05-01 08:00"])
    path = tmp_path / "leads.xlsx"
    workbook.save(path)
    assert "accepted 1" in run("import_leads", str(path), "--source", "manual")
    assert Lead.objects.get().source == "big_data"


def test_import_leads_refuses_a_file_without_a_header(hainan, tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "leads.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(CommandError, match="the first row must name the columns"):
        run("import_leads", str(path), "--source", "manual")


@mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0)
def test_run_intake_consolidates_and_prints_the_counts(dispatch, hainan):
    from tasks.leads_io import ingest_rows

    ingest_rows([lead(), lead()], channel="api")
    output = run("run_intake")
    batch = IntakeBatch.objects.get()
    assert f"Batch #{batch.pk}: 2 leads → 2 new tasks" in output
    assert TracingTask.objects.count() == 2
    assert "Nothing to do" in run("run_intake")


def test_the_celery_task_runs_the_same_step(hainan):
    from tasks.tasks import run_intake

    with mock.patch("tasks.intake.intake_run", return_value=None) as step:
        assert run_intake() is None
    step.assert_called_once_with()


def test_the_intake_runs_every_interval_in_celery_beat(settings):
    from tracing_center.celery import app

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "tasks.run_intake")
    assert entry["schedule"] == settings.INTAKE_INTERVAL_MINUTES * 60
