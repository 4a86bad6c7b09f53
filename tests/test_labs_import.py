"""import_test_results: the same validation and path as the API, from a file, with line numbers; and the
case status shown wherever the person is."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import LabResult
from tests.conftest import HOME_COUNTY, HOME_VILLAGE
from tests.labs_fixtures import person_by_id, resident_id
from tests.workflow_fixtures import make_task

pytestmark = pytest.mark.django_db


def _csv(tmp_path, lines: list[str]):
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_matches_reports_lines_and_is_rerunnable(tmp_path, hainan):
    person = person_by_id(resident_id(31))
    path = _csv(
        tmp_path,
        [
            "lab,sample_id,sampled_at,test_type,result,id_number,phone,name",
            f",F1,2024-05-01T08:30:00+08:00,nucleic_acid,negative,{resident_id(31)},,",
            ",F2,2024-05-01 08:30,nucleic_acid,negative,,13900000031,李四",
            ",F3,yesterday,nucleic_acid,negative,,13900000032,李五",
            "",
            ",F4,2024-05-01T08:30:00+08:00,pcr,negative,,13900000033,",
        ],
    )
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_test_results",
        str(path),
        "--lab",
        "市疾控实验室",
        "--division",
        HOME_COUNTY,
        stdout=out,
        stderr=err,
    )
    text = out.getvalue()
    assert "accepted 2, duplicates 0, rejected 2, matched 1" in text
    assert "line 4: sampled_at:" in text and "line 6: test_type:" in text
    stored = LabResult.objects.get(sample_id="F1")
    assert (stored.lab, stored.person_id, stored.match_state) == ("市疾控实验室", person.pk, "matched")
    assert LabResult.objects.get(sample_id="F2").division_id == HOME_COUNTY
    again = io.StringIO()
    call_command(
        "import_test_results", str(path), "--lab", "市疾控实验室", stdout=again, stderr=io.StringIO()
    )
    assert "accepted 0, duplicates 2" in again.getvalue()


def test_import_refuses_a_file_without_the_columns(tmp_path, hainan):
    path = _csv(tmp_path, ["who,what", "a,b"])
    with pytest.raises(CommandError, match="name the columns"):
        call_command("import_test_results", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def test_case_status_in_the_task_api_and_pages(api_client, client, crew, password):
    person = person_by_id(resident_id(32))
    person.case_status = "confirmed"
    person.save()
    task = make_task(HOME_VILLAGE, person=person, status="dispatched", assignee=crew["bob"])
    api_client.force_authenticate(crew["alice"])
    assert api_client.get(f"/api/v1/tasks/{task.pk}/").json()["person"]["case_status"] == "confirmed"
    client.login(username="alice", password=password)
    page = client.get(f"/tasks/{task.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'class="badge case-status case-confirmed"' in page and "确诊病例" in page
    client.logout()
    client.login(username="bob", password=password)
    field = client.get(f"/field/tasks/{task.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-status="confirmed"' in field and "确诊病例" in field
