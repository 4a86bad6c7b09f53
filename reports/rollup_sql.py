"""SQL of the rollup triggers (issue 7). Kept as plain strings so the migration that installs them
(0002) has no dependency on app code at run time: the migration copies these strings verbatim.

How the rollups stay exact:
* One AFTER ... FOR EACH STATEMENT trigger per operation on tasks_tracingtask, with transition tables
  (REFERENCING OLD TABLE / NEW TABLE). Whatever writes tasks (the intake's INSERT ... SELECT, the
  dispatch's bulk UPDATE, the sweep, a service's save(), a DELETE), the statement's rows are counted
  once: -1 per old row, +1 per new row, grouped by the rollup key; unchanged keys cancel out (HAVING).
  The rows are first grouped once on the columns the keys come from (tasks_function_sql).
* The delta is applied with INSERT ... ON CONFLICT DO UPDATE SET n = n + delta, which is atomic per key
  under concurrency (no read-modify-write, no lost update), inside the writer's transaction (a rollback
  rolls the delta back too).
* Rows are upserted in key order (ORDER BY), so two writers touching the same keys lock them in the same
  order: they queue, they do not deadlock.
* TRUNCATE of tasks empties the rollups.
"""

CLOCKLESS = "('approved','reported','closed','merged','cancelled')"

# 0 nothing, 1 a running clock past its warning, 2 a running clock breached (bits: tasks/clocks.py).
CLOCK_STATE = f"""CASE WHEN {{r}}.status IN {CLOCKLESS} THEN 0
  WHEN ({{r}}.dispatched_at IS NULL AND {{r}}.dispatch_due IS NOT NULL AND {{r}}.clock_alerts & 2 <> 0)
    OR ({{r}}.radius_limited_at IS NULL AND {{r}}.radius_due IS NOT NULL AND {{r}}.clock_alerts & 8 <> 0)
    OR ({{r}}.traced_at IS NULL AND {{r}}.trace_due IS NOT NULL AND {{r}}.clock_alerts & 32 <> 0) THEN 2
  WHEN ({{r}}.dispatched_at IS NULL AND {{r}}.dispatch_due IS NOT NULL AND {{r}}.clock_alerts & 1 <> 0)
    OR ({{r}}.radius_limited_at IS NULL AND {{r}}.radius_due IS NOT NULL AND {{r}}.clock_alerts & 4 <> 0)
    OR ({{r}}.traced_at IS NULL AND {{r}}.trace_due IS NOT NULL AND {{r}}.clock_alerts & 16 <> 0) THEN 1
  ELSE 0 END"""


def _hour(expr: str) -> str:
    # The hour as an absolute instant (date_bin on timestamptz does not depend on the session's TimeZone).
    return f"date_bin('1 hour', {expr}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def division_rows(rel: str, sign: str) -> str:
    return (
        f"SELECT {rel}.division_id AS k1, {rel}.status AS k2, {rel}.priority::smallint AS k3, "
        f"({CLOCK_STATE.format(r=rel)})::smallint AS k4, {sign}::bigint AS d FROM {rel}"
    )


def batch_rows(rel: str, sign: str) -> str:
    return f"SELECT {rel}.batch_id::bigint AS k1, left({rel}.division_id, 6) AS k2, {rel}.status AS k3, {sign}::bigint AS d FROM {rel}"


# The hour bucket of a task that has not ended (closed_at NULL): a key column of a unique constraint
# cannot be NULL and still conflict.
NOT_ENDED = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def kind_rows(rel: str, sign: str) -> str:
    return (
        f"SELECT {rel}.division_id AS k1, {rel}.kind AS k2, {rel}.status AS k3, {rel}.outcome AS k4, "
        f"coalesce({_hour(f'{rel}.closed_at')}, {NOT_ENDED}) AS k5, {sign}::bigint AS d FROM {rel}"
    )


EVENTS = (
    ("created", "{r}.created_at"),
    ("dispatched", "{r}.dispatched_at"),
    ("dispatched_ontime", "CASE WHEN {r}.dispatched_at <= {r}.dispatch_due THEN {r}.dispatched_at END"),
    ("radius_limited", "{r}.radius_limited_at"),
    ("radius_ontime", "CASE WHEN {r}.radius_limited_at <= {r}.radius_due THEN {r}.radius_limited_at END"),
    ("traced", "{r}.traced_at"),
    ("traced_ontime", "CASE WHEN {r}.traced_at <= {r}.trace_due THEN {r}.traced_at END"),
    ("approved", "{r}.approved_at"),
)


def event_rows(rel: str, sign: str) -> str:
    # One filtered scan of the statement's rows per event (UNION ALL): cheaper than a LATERAL VALUES
    # unpivot, and an INSERT of new tasks (only created_at set) costs one row per task.
    parts = []
    for name, expr in EVENTS:
        at = expr.format(r=rel)
        parts.append(
            f"SELECT left({rel}.division_id, 6) AS k1, '{name}'::varchar AS k2, {_hour(at)} AS k3, {sign}::bigint AS d "
            f"FROM {rel} WHERE ({at}) IS NOT NULL"
        )
    return " UNION ALL ".join(parts)


TABLES = {
    # table: (row builder, key columns)
    "reports_divisioncount": (division_rows, ("division_code", "status", "priority", "clock_state")),
    "reports_batchcount": (batch_rows, ("batch_id", "county", "status")),
    "reports_eventcount": (event_rows, ("county", "event", "hour")),
    "reports_kindcount": (kind_rows, ("division_code", "kind", "status", "outcome", "closed_hour")),
}
# The rollups migration 0002 installed (function_sql); the per-kind counts came with 0031.
ORIGINAL_TABLES = ("reports_divisioncount", "reports_batchcount", "reports_eventcount")


TEXT_KEYS = {
    "reports_divisioncount": {"k1": True, "k2": True},
    "reports_batchcount": {"k2": True, "k3": True},
    "reports_eventcount": {"k1": True, "k2": True},
    "reports_kindcount": {"k1": True, "k2": True, "k3": True, "k4": True},
}


def _delta_and_insert(table: str, sources: list[tuple[str, str]], delta: str) -> tuple[str, str]:
    """The summed deltas of `sources` [(relation, sign)] for `table` (a SELECT, to be the CTE `delta`),
    and the INSERT … ON CONFLICT that applies them. Grouped first (a hash aggregate, materialized), then
    the few resulting keys are sorted (byte order, COLLATE "C") so that concurrent writers lock them in
    one order."""
    builder, keys = TABLES[table]
    inner = " UNION ALL ".join(builder(rel, sign) for rel, sign in sources)
    ks = ", ".join(f"k{i}" for i in range(1, len(keys) + 1))
    cols = ", ".join(keys)
    order = ", ".join(
        f'k{i} COLLATE "C"' if TEXT_KEYS.get(table, {}).get(f"k{i}") else f"k{i}"
        for i in range(1, len(keys) + 1)
    )
    return (
        f"SELECT {ks}, sum(d) AS d FROM ({inner}) AS x GROUP BY {ks} HAVING sum(d) <> 0",
        f"INSERT INTO {table} AS t ({cols}, n) SELECT {ks}, d FROM {delta} ORDER BY {order} "
        f"ON CONFLICT ({cols}) DO UPDATE SET n = t.n + EXCLUDED.n",
    )


def upsert(table: str, sources: list[tuple[str, str]]) -> str:
    """INSERT ... SELECT the summed deltas of `sources` [(relation, sign)] into `table`."""
    delta, insert = _delta_and_insert(table, sources, "delta")
    return f"WITH delta AS MATERIALIZED ({delta}) {insert}"


# The task columns the rollup keys are computed from.
KEY_COLUMNS = (
    "division_id",
    "status",
    "priority",
    "clock_alerts",
    "batch_id",
    "created_at",
    "dispatch_due",
    "dispatched_at",
    "radius_due",
    "radius_limited_at",
    "trace_due",
    "traced_at",
    "approved_at",
    "kind",
    "outcome",
    "closed_at",
)


def _grouped_rows(sources: list[tuple[str, str]]) -> str:
    """`r`: the statement's rows grouped on the key columns, with `d` = the signed count of each group.
    The rows of one statement share most of their values (an intake batch's tasks have the same batch,
    creation and dispatch times), so a million rows collapse to about as many groups as villages ×
    statuses × priorities, and the three rollups then group those instead of scanning the transition
    tables ten times. An UPDATE's unchanged rows cancel out here (-1 + 1)."""
    cols = ", ".join(KEY_COLUMNS)
    inner = " UNION ALL ".join(f"SELECT {sign}::bigint AS d, {cols} FROM {rel}" for rel, sign in sources)
    return (
        f"r AS MATERIALIZED (SELECT sum(d) AS d, {cols} FROM ({inner}) AS x "
        f"GROUP BY {cols} HAVING sum(d) <> 0)"
    )


def statement_sql(sources: list[tuple[str, str]]) -> str:
    """The trigger's one statement: `r` (see _grouped_rows), then per rollup table its delta and an
    upsert in key order. The upserts come in the same order (TABLES) in every branch, so two writers
    lock rollup keys in one order whatever they do to tasks."""
    ctes = [_grouped_rows(sources)]
    upserts = []
    for table in TABLES:
        delta, insert = _delta_and_insert(table, [("r", "r.d")], f"delta_{table}")
        ctes.append(f"delta_{table} AS MATERIALIZED ({delta})")
        upserts.append(insert)
    ctes += [
        f"upsert_{table} AS ({insert})" for table, insert in zip(list(TABLES)[:-1], upserts[:-1], strict=True)
    ]
    return "WITH " + ",\n      ".join(ctes) + "\n    " + upserts[-1]


def tasks_function_sql() -> str:
    """The rollup trigger function as installed now (migration 0031, which copies this text; 0004 has the
    one before the per-kind counts)."""
    return f"""
CREATE OR REPLACE FUNCTION reports_rollup_tasks() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {statement_sql([("new_rows", "1")])};
  ELSIF TG_OP = 'UPDATE' THEN
    {statement_sql([("old_rows", "-1"), ("new_rows", "1")])};
  ELSIF TG_OP = 'DELETE' THEN
    {statement_sql([("old_rows", "-1")])};
  END IF;
  RETURN NULL;
END
$fn$;
"""


def function_sql() -> str:
    """The functions and triggers as migration 0002 installed them (reports_rollup_tasks since replaced:
    tasks_function_sql)."""

    def body(sources):
        return ";\n    ".join(upsert(table, sources) for table in ORIGINAL_TABLES) + ";"

    return f"""
CREATE OR REPLACE FUNCTION reports_rollup_tasks() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {body([("new_rows", "1")])}
  ELSIF TG_OP = 'UPDATE' THEN
    {body([("old_rows", "-1"), ("new_rows", "1")])}
  ELSIF TG_OP = 'DELETE' THEN
    {body([("old_rows", "-1")])}
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION reports_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- DELETE, not TRUNCATE: Django's flush truncates these tables in the same statement as the tasks.
  DELETE FROM reports_divisioncount; DELETE FROM reports_batchcount; DELETE FROM reports_eventcount;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER reports_rollup_ins AFTER INSERT ON tasks_tracingtask
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_rollup_tasks();
CREATE TRIGGER reports_rollup_upd AFTER UPDATE ON tasks_tracingtask
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_rollup_tasks();
CREATE TRIGGER reports_rollup_del AFTER DELETE ON tasks_tracingtask
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reports_rollup_tasks();
CREATE TRIGGER reports_rollup_trunc AFTER TRUNCATE ON tasks_tracingtask
  FOR EACH STATEMENT EXECUTE FUNCTION reports_rollup_truncate();
"""


TRUNCATE_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION reports_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- DELETE, not TRUNCATE: Django's flush truncates these tables in the same statement as the tasks.
  DELETE FROM reports_divisioncount; DELETE FROM reports_batchcount; DELETE FROM reports_eventcount;
  DELETE FROM reports_kindcount;
  RETURN NULL;
END
$fn$;
"""


def fill_sql() -> str:
    """(Re)compute every rollup from tasks_tracingtask (used after creation and by rollups_rebuild)."""
    return ";\n".join(upsert(table, [("tasks_tracingtask", "1")]) for table in TABLES) + ";"


DROP_SQL = """
DROP TRIGGER IF EXISTS reports_rollup_ins ON tasks_tracingtask;
DROP TRIGGER IF EXISTS reports_rollup_upd ON tasks_tracingtask;
DROP TRIGGER IF EXISTS reports_rollup_del ON tasks_tracingtask;
DROP TRIGGER IF EXISTS reports_rollup_trunc ON tasks_tracingtask;
DROP FUNCTION IF EXISTS reports_rollup_tasks();
DROP FUNCTION IF EXISTS reports_rollup_truncate();
"""

# The dashboard's clock lists: active tasks by their earliest running deadline (partial: active only).
ACTIVE = "('new','dispatched','received','radius_limited','traced','submitted','returned','transferring')"
RUNNING_DEADLINE = (
    "LEAST(CASE WHEN dispatched_at IS NULL THEN dispatch_due END, "
    "CASE WHEN radius_limited_at IS NULL THEN radius_due END, "
    "CASE WHEN traced_at IS NULL THEN trace_due END)"
)
INDEX_SQL = f"""
-- dashboard clock lists (reports/stats.py clock_lists): active tasks by earliest running deadline.
CREATE INDEX IF NOT EXISTS reports_task_running_deadline ON tasks_tracingtask (({RUNNING_DEADLINE})) WHERE status IN {ACTIVE};
-- SLA medians over a window (reports/stats.py sla): tasks dispatched in the window.
CREATE INDEX IF NOT EXISTS reports_task_dispatched_at ON tasks_tracingtask (dispatched_at) WHERE dispatched_at IS NOT NULL;
"""
INDEX_DROP_SQL = """
DROP INDEX IF EXISTS reports_task_running_deadline;
DROP INDEX IF EXISTS reports_task_dispatched_at;
"""
