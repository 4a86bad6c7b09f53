"""The one way to write a spreadsheet cell: every CSV and XLSX export passes its values through
`safe_cell`, so a value typed by someone else (a user agent, a reason, a division name) cannot turn into
a formula when the file is opened in Excel or WPS (CSV/formula injection, OWASP)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

# A spreadsheet reads a cell starting with one of these as a formula (tab and CR: some importers strip
# them and then read the formula behind).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` unchanged unless it is text a spreadsheet would evaluate: then prefixed with `'`, which
    makes Excel, WPS and LibreOffice show it as text. Numbers stay numbers (a negative count is not a
    formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[Any], rows: Iterable[Iterable[Any]], *, bom: bool = True) -> Iterator[str]:
    """The CSV text of `header` and `rows`, one line at a time (for a StreamingHttpResponse), each
    cell through `safe_cell`. With `bom`, the first line starts with a UTF-8 BOM so that Excel reads
    Chinese correctly."""
    writer = csv.writer(_Echo())
    first = writer.writerow(safe_row(header))
    yield ("\ufeff" + first) if bom else first
    for row in rows:
        yield writer.writerow(safe_row(row))


def csv_text(header: Sequence[Any], rows: Iterable[Iterable[Any]], *, bom: bool = True) -> str:
    return "".join(csv_lines(header, rows, bom=bom))


def xlsx_bytes(sheet_name: str, header: Sequence[Any], rows: Iterable[Iterable[Any]]) -> bytes:
    """A one-sheet workbook of `header` and `rows`, each cell through `safe_cell`."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(safe_row(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
