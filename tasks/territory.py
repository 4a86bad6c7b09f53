"""Loading the territory from the statistical division CSVs (code,name,level,parent_code).

Validation happens in Python as rows stream in (so a bad file is rejected with its line number before
anything is written); the write is one COPY into a staging table and one INSERT … SELECT … ON CONFLICT,
so the whole country (665,276 rows) loads in seconds and a second run changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from .models.territory import CODE_LENGTH, LEVEL_DEPTH, Level

EXPECTED_HEADER = ["code", "name", "level", "parent_code"]
PARENT_LEVEL: dict[str, Level] = {
    Level.CITY: Level.PROVINCE,
    Level.COUNTY: Level.CITY,
    Level.TOWNSHIP: Level.COUNTY,
    Level.VILLAGE: Level.TOWNSHIP,
}
MAX_REPORTED_ERRORS = 20


class DivisionFileError(Exception):
    """A file that cannot be loaded; `problems` are (path, line, reason)."""

    def __init__(self, problems: list[tuple[str, int, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}:{line}: {reason}" for path, line, reason in problems))


@dataclass
class LoadResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    units_created: int = 0
    by_level: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


def open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_rows(
    path: Path, problems: list, on_row: Callable[[], None] | None = None
) -> Iterator[tuple[str, str, str, str, int]]:
    """Yield (code, name, level, parent_code, line) for valid rows; append problems for the others."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            problems.append((str(path), 1, "the file is empty"))
            return
        if [column.strip() for column in header] != EXPECTED_HEADER:
            problems.append(
                (str(path), 1, f"header must be {','.join(EXPECTED_HEADER)}, got {','.join(header)}")
            )
            return
        for line, row in enumerate(reader, start=2):
            if on_row:
                on_row()
            reason = _row_problem(row)
            if reason:
                problems.append((str(path), line, reason))
                if len(problems) >= MAX_REPORTED_ERRORS:
                    return
                continue
            code, name, level, parent = (value.strip() for value in row)
            yield code, name, level, parent, line


def _row_problem(row: list[str]) -> str | None:
    if len(row) != 4:
        return f"expected 4 columns, found {len(row)}"
    code, name, level, parent = (value.strip() for value in row)
    if level not in LEVEL_DEPTH:
        return f"level {level!r} is not one of {', '.join(Level.values)}"
    if not (code.isascii() and code.isdigit()):
        return f"code {code!r} must contain only digits"
    if len(code) != CODE_LENGTH[level]:
        return f"code {code} has {len(code)} digits, a {level} code has {CODE_LENGTH[level]}"
    if not name:
        return f"code {code} has no name"
    if level == Level.PROVINCE:
        if parent:
            return f"province {code} must not have a parent_code"
        return None
    expected = CODE_LENGTH[PARENT_LEVEL[level]]
    if len(parent) != expected or not code.startswith(parent):
        return f"parent_code {parent!r} of {level} {code} must be its first {expected} digits"
    return None


def load_division_files(
    paths: list[Path], *, with_teams: bool = False, progress: Callable[[], None] | None = None
) -> LoadResult:
    """Validate every file, then write all of them in one transaction: all or nothing."""
    problems: list[tuple[str, int, str]] = []
    result = LoadResult()
    buffer = io.StringIO()
    seen: dict[str, tuple[str, int]] = {}
    for path in paths:
        for code, name, level, parent, line in read_rows(path, problems, progress):
            if code in seen:
                first_path, first_line = seen[code]
                problems.append(
                    (str(path), line, f"code {code} already appears at {first_path}:{first_line}")
                )
                continue
            seen[code] = (str(path), line)
            result.by_level[level] = result.by_level.get(level, 0) + 1
            buffer.write(
                f"{code}\t{_copy_escape(name)}\t{level}\t{parent or chr(92) + 'N'}\t{path.name}:{line}\n"
            )
        if len(problems) >= MAX_REPORTED_ERRORS:
            break
    if problems:
        raise DivisionFileError(problems)
    result.rows = len(seen)
    del seen
    with transaction.atomic(), connection.cursor() as cursor:
        # Inside an outer transaction (tests, a caller's atomic block) ON COMMIT DROP has not fired yet.
        cursor.execute("DROP TABLE IF EXISTS division_staging")
        cursor.execute(
            "CREATE TEMP TABLE division_staging (code varchar(12) PRIMARY KEY, name text, level text, "
            "parent_id varchar(12), origin text) ON COMMIT DROP"
        )
        buffer.seek(0)
        with cursor.copy("COPY division_staging (code, name, level, parent_id, origin) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        del buffer
        cursor.execute("ANALYZE division_staging")
        # Parents must be in these files or already loaded.
        cursor.execute(
            """
            SELECT s.origin, s.parent_id FROM division_staging s
            WHERE s.parent_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM division_staging p WHERE p.code = s.parent_id)
              AND NOT EXISTS (SELECT 1 FROM tasks_division d WHERE d.code = s.parent_id)
            ORDER BY s.origin LIMIT %s
            """,
            [MAX_REPORTED_ERRORS],
        )
        orphans = cursor.fetchall()
        if orphans:
            raise DivisionFileError(
                [
                    (
                        origin.rsplit(":", 1)[0],
                        int(origin.rsplit(":", 1)[1]),
                        f"parent_code {parent} is not a known division",
                    )
                    for origin, parent in orphans
                ]
            )
        cursor.execute(
            """
            WITH upserted AS (
                INSERT INTO tasks_division (code, name, level, parent_id)
                SELECT code, name, level, parent_id FROM division_staging ORDER BY code
                ON CONFLICT (code) DO UPDATE
                    SET name = EXCLUDED.name, level = EXCLUDED.level, parent_id = EXCLUDED.parent_id
                    WHERE (tasks_division.name, tasks_division.level, tasks_division.parent_id)
                          IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent_id)
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
            """
        )
        result.inserted, result.updated = cursor.fetchone()
        if with_teams:
            result.units_created = create_units(cursor, staged_only=True)
        # Fresh statistics at once: the intake's and dispatch's joins on divisions and units are planned
        # from them, and a freshly loaded table looks nearly empty until autovacuum gets to it.
        cursor.execute("ANALYZE tasks_division")
        cursor.execute("ANALYZE tasks_unit")
    return result


def create_units(cursor, *, staged_only: bool = False) -> int:
    """One duty desk per county and city, one team per township, one sub-unit per village, in one
    statement; existing units are left as they are."""
    source = "division_staging" if staged_only else "tasks_division"
    cursor.execute(
        f"""
        INSERT INTO tasks_unit (kind, division_id, name)
        SELECT CASE s.level WHEN 'township' THEN 'team' WHEN 'village' THEN 'subunit' ELSE 'duty_desk' END,
               s.code,
               s.name || CASE s.level WHEN 'township' THEN '流调队' WHEN 'village' THEN '流调分队' ELSE '指挥部值班台' END
        FROM {source} s
        WHERE s.level IN ('city', 'county', 'township', 'village')
        ORDER BY s.code
        ON CONFLICT (division_id, kind) DO NOTHING
        """
    )
    return cursor.rowcount


def _copy_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
