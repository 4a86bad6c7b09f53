import gzip

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tasks.models import Division, Unit, normalize_code
from tests.conftest import HAINAN_CSV

HEADER = "code,name,level,parent_code\n"


def write(tmp_path, text, name="divisions.csv"):
    path = tmp_path / name
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def test_hainan_is_loaded_with_all_five_levels(hainan):
    counts = {
        level: Division.objects.filter(level=level).count()
        for level in ["province", "city", "county", "township", "village"]
    }
    assert counts == {"province": 1, "city": 5, "county": 27, "township": 243, "village": 3296}


def test_it_creates_one_team_per_township_and_one_subunit_per_village(hainan):
    assert Unit.objects.filter(kind="team").count() == 243
    assert Unit.objects.filter(kind="subunit").count() == 3296
    assert Unit.objects.get(kind="team", division_id="460105001").name == "秀英街道流调队"
    assert Unit.objects.filter(kind="duty_desk", division_id="460105").exists()


def test_a_second_run_changes_nothing_and_says_so(hainan, capsys):
    call_command("load_divisions", str(HAINAN_CSV), "--with-teams", verbosity=0)
    out = capsys.readouterr().out
    assert "Nothing changed: all 3572 divisions" in out
    assert "created: 0" in out


def test_it_updates_a_renamed_division(hainan, tmp_path, capsys):
    path = write(tmp_path, "46,海南省,province,\n4601,海口市（新）,city,46\n")
    call_command("load_divisions", str(path), verbosity=0)
    assert "1 updated" in capsys.readouterr().out
    assert Division.objects.get(code="4601").name == "海口市（新）"


def test_it_reads_gzip_files(db, tmp_path):
    path = tmp_path / "divisions.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "99,测试省,province,\n9901,测试市,city,99\n")
    call_command("load_divisions", str(path), verbosity=0)
    assert Division.objects.get(code="9901").parent_id == "99"


def test_a_parent_may_come_from_an_earlier_file_of_the_same_call(db, tmp_path):
    first = write(tmp_path, "99,测试省,province,\n", "a.csv")
    second = write(tmp_path, "9901,测试市,city,99\n", "b.csv")
    call_command("load_divisions", str(first), str(second), verbosity=0)
    assert Division.objects.filter(code__startswith="99").count() == 2


@pytest.mark.parametrize(
    ("rows", "line", "reason"),
    [
        ("99,测试省,province,\n9901,测试市,town,99\n", 3, "level 'town' is not one of"),
        ("99,测试省,province,\n990,测试市,city,99\n", 3, "has 3 digits, a city code has 4"),
        ("99,测试省,province,\n9901,测试市,city,98\n", 3, "must be its first 2 digits"),
        ("99,测试省,province,\n99A1,测试市,city,99\n", 3, "must contain only digits"),
        ("99,测试省,province,\n9901,,city,99\n", 3, "has no name"),
        ("99,测试省,province\n", 2, "expected 4 columns"),
        ("99,测试省,province,\n99,测试省,province,\n", 3, "already appears at"),
        ("990101,测试县,county,9901\n", 2, "parent_code 9901 is not a known division"),
    ],
)
def test_it_rejects_a_bad_file_with_the_line_number_and_reason(db, tmp_path, rows, line, reason):
    path = write(tmp_path, rows)
    with pytest.raises(CommandError) as excinfo:
        call_command("load_divisions", str(path), verbosity=0)
    message = str(excinfo.value)
    assert f"line {line}:" in message
    assert reason in message
    assert not Division.objects.filter(code__startswith="99").exists(), "a rejected file loads nothing"


def test_it_rejects_a_wrong_header(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,name,level\n99,测试省,province\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1: header must be code,name,level,parent_code"):
        call_command("load_divisions", str(path), verbosity=0)


def test_it_reports_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_divisions", str(tmp_path / "missing.csv"), verbosity=0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4601", "4601"),
        ("460100000000", "4601"),
        ("460105000000", "460105"),
        ("460105001000", "460105001"),
        ("460105001001", "460105001001"),
        (" 46 ", "46"),
    ],
)
def test_codes_are_normalised_to_their_significant_digits(raw, expected):
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "4", "46010", "46A1", "４６"])
def test_malformed_codes_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_code(raw)


def test_subtree_queries_use_the_prefix_index(hainan):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT code FROM tasks_division WHERE code LIKE '460105%'")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "Index" in plan and "~>=~" in plan


def test_ancestors_and_path_name(hainan):
    village = Division.objects.get(code="460105001001")
    assert village.ancestor_codes() == ["46", "4601", "460105", "460105001", "460105001001"]
    assert village.path_name() == "海南省 / 海口市 / 秀英区 / 秀英街道 / 秀华社区居民委员会"
