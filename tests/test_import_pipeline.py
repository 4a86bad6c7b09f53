"""import_leads' CSV pipeline (tasks.leads_io.import_csv): blocks of whole CSV records, COPY text, and
worker processes. Whatever the path, the result must be the one of the plain row-by-row import
(import_rows over iter_file): same leads, same duplicates, same rejections with the same line numbers."""

import csv
import hashlib
import hmac
import io
import json
import os
from concurrent.futures.process import BrokenProcessPool
from operator import mul

import pytest
from django.utils import translation

from tasks import leads_io
from tasks.crypto import reveal_row
from tasks.leads_io import IngestResult, import_csv, import_rows, ingest_rows, iter_file
from tasks.models import Lead, LeadRejection
from tasks.validation import _Hasher, id_check_digit
from tests.intake_helpers import HOME_VILLAGE, resident_id

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


HEADER = "source,external_id,id_number,name,phone,division_code,address,reason,reported_at,extra\n"


def tricky_csv(rows: int = 40) -> str:
    """Valid and invalid rows, blank lines, quoted fields spanning lines, quotes inside fields, characters
    COPY must escape (tab, backslash, CR), CRLF and lone-CR line ends, an unknown column (payload)."""
    lines = [HEADER]
    for n in range(rows):
        kind = n % 10
        id_number = resident_id()
        if kind == 0:
            lines.append(f"big_data,t{n},{id_number},张三,,{HOME_VILLAGE},,plain,2024-05-01T08:00:00,x{n}\n")
        elif kind == 1:
            lines.append(
                f'red_code,t{n},{id_number},"李\t四",,{HOME_VILLAGE},"秀英区\n长流镇 ""长东村""",r\\n{n},2024-05-01T08:00:00,\n'
            )
        elif kind == 2:
            wrong = id_number[:-1] + ("1" if id_number[-1] == "0" else "0")
            lines.append(f"returnee,t{n},{wrong},王五,,{HOME_VILLAGE},,bad check digit,2024-05-01 08:00,\r\n")
        elif kind == 3:
            lines.append("\n")  # blank: skipped, but counted in the line numbers
        elif kind == 4:
            lines.append(
                f",t{n},,赵六,13912345678,,海南省海口市秀英区长流镇长东村{n}号,phone and address,2024-05-01T08:00:00+08:00,\r"
            )
        elif kind == 5:
            lines.append(
                f'hotline,"t{n}","",,"139 1234 5678",{HOME_VILLAGE},"a\\\\b","line one\r\nline two",2024-05-01T08:00:00,"{{""k"": 1}}"\n'
            )
        elif kind == 6:
            lines.append(f"community,t{n},,,,,,no way to find the person,2024-05-01T08:00:00,\n")
        elif kind == 7:
            lines.append(
                f"big_data,t{n - 7},{id_number},重复,,{HOME_VILLAGE},,duplicate of row t{n - 7},2024-05-01T08:00:00,\n"
            )
        elif kind == 8:
            lines.append(
                f'manual,t{n},{id_number},"A ""quoted"" name",,{HOME_VILLAGE},,"",2024-05-01T08:00:00,"tab\there"\n'
            )
        else:
            lines.append(f"red_code,t{n},{id_number},钱七,,999999,,unknown division,2024-05-01T08:00:00,\n")
    return "".join(lines)


def records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --- blocks of whole records -------------------------------------------------------------------------------


@pytest.mark.parametrize("rows_per_block", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("read_size", [5, 64, 1 << 22])
def test_blocks_hold_whole_records_whatever_the_cut(monkeypatch, rows_per_block, read_size):
    monkeypatch.setattr(leads_io, "_READ_SIZE", read_size)
    text = tricky_csv(30) + 'last,"unterminated\nquote'
    blocks = list(leads_io._csv_blocks(io.StringIO(text, newline=""), rows_per_block, first_block=1))
    assert "".join(blocks) == text
    assert [r for block in blocks for r in records(block)] == records(text)
    assert records(blocks[0]) == [records(HEADER)[0]]


def test_an_empty_file_gives_no_block():
    assert list(leads_io._csv_blocks(io.StringIO("", newline=""), 10)) == []


# --- same result as the row-by-row import ----------------------------------------------------------------


def snapshot(result: IngestResult) -> dict:
    leads = sorted(
        (
            lead.source,
            lead.external_id,
            lead.id_number,
            lead.id_number_hash,
            lead.name,
            lead.phone,
            lead.phone_hash,
            lead.division_id,
            lead.current_division_id,
            lead.address,
            lead.reason,
            lead.reported_at.isoformat(),
            lead.related_task_id,
            json.dumps(lead.payload, sort_keys=True, ensure_ascii=False),
            lead.priority,
            lead.person_key if not lead.person_key.startswith("lead:") else "lead:",
            lead.channel,
        )
        for lead in Lead.objects.all()
    )
    rejections = sorted(
        (
            r.row_index,
            r.source,
            r.external_id,
            json.dumps(r.errors, ensure_ascii=False),
            json.dumps(reveal_row(r.row), ensure_ascii=False, sort_keys=True),
        )
        for r in LeadRejection.objects.all()
    )
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [(r.index, r.errors) for r in result.rejected],
        "leads": leads,
        "rejections": rejections,
        "order": list(Lead.objects.order_by("id").values_list("external_id", flat=True)),
    }


def import_both_ways(tmp_path, **options):
    path = tmp_path / "leads.csv"
    path.write_text(tricky_csv(), encoding="utf-8")
    expected = snapshot(import_rows(iter_file(path), source="manual", channel="file", chunk_size=4))
    Lead.objects.all().delete()
    LeadRejection.objects.all().delete()
    got = snapshot(import_csv(path, source="manual", channel="file", chunk_size=4, **options))
    return expected, got


def test_the_block_path_gives_the_row_by_row_result(hainan, tmp_path):
    expected, got = import_both_ways(tmp_path, workers=0)
    assert got == expected
    assert expected["accepted"] == 20 and expected["duplicates"] == 4 and len(expected["rejected"]) == 12
    leads = {lead.external_id: lead for lead in Lead.objects.all()}
    assert leads["t1"].name == "李 四"  # whitespace in names collapses, as before
    assert leads["t1"].address == '秀英区\n长流镇 "长东村"' and leads["t1"].reason == "r\\n1"
    assert leads["t5"].address == "a\\\\b" and leads["t5"].reason == "line one\r\nline two"
    assert leads["t5"].payload == {"extra": '{"k": 1}'}
    assert leads["t8"].payload == {"extra": "tab\there"}


@pytest.mark.django_db(transaction=True)
def test_worker_processes_give_the_row_by_row_result(hainan, tmp_path):
    expected, got = import_both_ways(tmp_path, workers=2)
    assert got == expected


@pytest.mark.django_db(transaction=True)
def test_a_rerun_counts_everything_as_duplicates(hainan, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(tricky_csv(), encoding="utf-8")
    first = import_csv(path, source="manual", channel="file", chunk_size=4, workers=2)
    again = import_csv(path, source="manual", channel="file", chunk_size=7, workers=2)
    assert (again.accepted, again.duplicates) == (0, first.accepted + first.duplicates)
    assert [r.index for r in again.rejected] == [r.index for r in first.rejected]


def test_progress_counts_the_rows_read(hainan, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(tricky_csv(), encoding="utf-8")
    seen = []
    import_csv(path, source="manual", channel="file", chunk_size=4, progress=seen.append)
    assert sum(seen) == len([r for r in records(tricky_csv())[1:] if any(r)])


def test_inside_a_transaction_it_validates_in_this_process(hainan, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(tricky_csv(), encoding="utf-8")
    # The test's transaction is open: workers could not see its rows, nor may the connection be closed.
    result = import_csv(path, source="manual", channel="file", chunk_size=4, workers=2)
    assert result.accepted == 20


# --- a crash keeps the committed chunks --------------------------------------------------------------------


def _failing_on(marker, how):
    real = leads_io._process_block_now

    def process(text, header, validator):
        if marker in text:
            if how == "exit":
                os._exit(3)  # the worker process dies
            raise RuntimeError(f"validation crashed on {marker}")
        return real(text, header, validator)

    return process


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how, error", [("raise", RuntimeError), ("exit", BrokenProcessPool)])
def test_a_crash_in_a_worker_surfaces_and_keeps_the_committed_chunks(
    hainan, tmp_path, monkeypatch, how, error
):
    path = tmp_path / "leads.csv"
    rows = [f"red_code,c{n},{resident_id()},测试,,{HOME_VILLAGE},,,2024-05-01T08:00:00\n" for n in range(40)]
    path.write_text(HEADER.replace(",extra", "") + "".join(rows), encoding="utf-8")
    # Inherited by the forked workers: the block holding row c25 fails.
    monkeypatch.setattr(leads_io, "_process_block_now", _failing_on(",c25,", how))
    with pytest.raises(error):
        import_csv(path, source="manual", channel="file", chunk_size=10, workers=2)
    committed = set(Lead.objects.values_list("external_id", flat=True))
    # The chunks import_csv wrote before the failing one (as it cuts the file), as prefixes of the rows.
    with open(path, encoding="utf-8", newline="") as handle:
        blocks = [
            {r[1] for r in records(b)}
            for b in leads_io._csv_blocks(handle, 10, first_block=1, second_block=1)
        ][1:]
    failing = next(i for i, b in enumerate(blocks) if "c25" in b)
    prefixes = [set().union(*blocks[:i]) for i in range(failing + 1)]
    assert len(prefixes[failing]) >= 11
    if how == "raise":
        assert committed == prefixes[failing]  # every chunk before it, nothing after
    else:  # a dead worker breaks the pool: chunks still in flight fail too, never a later one alone
        assert committed in prefixes
    monkeypatch.undo()
    rerun = import_csv(path, source="manual", channel="file", chunk_size=10, workers=2)
    assert (rerun.accepted, rerun.duplicates) == (40 - len(committed), len(committed))


# --- the API path keeps its behaviour with COPY text -------------------------------------------------------


def test_values_needing_copy_escapes_round_trip_through_the_api_path(hainan):
    odd = "tab\there, newline\nthere, CR\rhere, backslash \\ and \\N and \\."
    result = ingest_rows(
        [
            {
                "source": "manual",
                "external_id": "esc\t1\\",
                "name": "名\\字",
                "address": odd,
                "reason": odd,
                "id_number": resident_id(),
                "division_code": HOME_VILLAGE,
                "reported_at": "2024-05-01T08:00:00",
                "payload": {"note": odd, "n": [1, "\\"]},
            }
        ],
        channel="api",
    )
    assert result.accepted == 1
    lead = Lead.objects.get()
    assert (lead.external_id, lead.name, lead.address, lead.reason) == ("esc\t1\\", "名\\字", odd, odd)
    assert lead.payload == {"note": odd, "n": [1, "\\"]}


# --- the fast helpers equal the plain formulas --------------------------------------------------------------


@pytest.mark.parametrize("key", ["k", "x" * 64, "y" * 65, "长密钥" * 30, ""])
def test_the_hasher_is_hmac_sha256(key):
    hasher = _Hasher(key)
    for value in ("460105195001010011", "13912345678|张三", ""):
        assert (
            hasher("id", value) == hmac.new(key.encode(), f"id|{value}".encode(), hashlib.sha256).hexdigest()
        )


def test_the_check_digit_shortcut_equals_the_weighted_sum():
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for n in range(0, 10**17, 7919 * 10**11 + 12345):
        first17 = f"{n:017d}"
        assert id_check_digit(first17) == "10X98765432"[sum(map(mul, map(int, first17), weights)) % 11]


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_same_summary_with_workers(hainan, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "leads.csv"
    path.write_text(tricky_csv(), encoding="utf-8")
    outputs = []
    for workers in ("2", "0"):
        out = io.StringIO()
        call_command(
            "import_leads",
            str(path),
            "--source",
            "manual",
            "--chunk-size",
            "5",
            "--workers",
            workers,
            stdout=out,
            stderr=io.StringIO(),
        )
        outputs.append(out.getvalue())
        Lead.objects.all().delete()
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("accepted 20, duplicates 4, rejected 12\n")
    assert "  line 4: id_number: check digit should be" in outputs[0]
