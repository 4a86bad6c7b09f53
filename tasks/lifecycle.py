"""The data-lifecycle registry: which personal data each app holds, how the retention purge anonymises
it and how key rotation re-encrypts it (docs/lifecycle.md).

`tasks` is the base app. It owns the selection of the persons to purge, the advisory lock, the
transaction and the order of the steps (tasks/retention.py), and the rotation loop (tasks/crypto.py).
The apps built on it register, in their `AppConfig.ready()`, every model that holds personal data;
`tasks` never imports them (dependencies point one way: reports -> notices -> reviews -> tasks)::

    # reviews/apps.py, in ready():
    from tasks import lifecycle
    from . import lifecycle as reviews_lifecycle

    reviews_lifecycle.register()   # which calls, for instance:

    lifecycle.register(
        ReviewComment,
        where="task_id IN ({tasks})",      # the rows of the purged persons
        clear={"body": "'-'"},             # column -> the SQL value the purge writes
        counter="field_records",           # optional: the PurgeRun column its count adds to
    )

A registration says one or more of:

* how its rows are purged: `where` (an SQL condition on the model's table; `{persons}` and `{tasks}`
  are subqueries of the ids the purge selected) with `clear` (the purge runs `UPDATE table SET
  clear... WHERE where`), or a `purge` function for what one UPDATE cannot say. The change history
  (django-auditlog) of the same rows loses the cleared fields in the same transaction;
* a `sweep`: rows (or files) deleted by age rather than by person (rejected intake rows, uploads);
* how it is re-encrypted: `reencrypt(model, batch_size=..., log=...)` returns the rows it rewrote;
* how its keyed hashes (PERSON_HASH_KEY) are recomputed: `rehash(model, batch_size=..., log=...)`
  returns a tasks.blind_index.Rehashed (`manage.py rotate_person_hash_key`);
* `keep`: personal-looking fields the purge keeps on purpose, each with the reason;
* `exempt`: why a model with personal-looking fields is neither purged nor re-encrypted.

tests/test_lifecycle_registry.py fails when a model with personal-data fields (encrypted field
classes, names, addresses, phones, free text) is not registered, or has a personal field its
registration does not mention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models

# The purge's id tables (temporary, dropped at commit), filled by tasks/retention.py before any
# registration runs. A registration's `where` names them through {persons} and {tasks}.
PERSONS = "SELECT id FROM purge_person_ids"
TASKS = "SELECT id FROM purge_task_ids"

Log = Callable[[str], Any]


@dataclass(frozen=True)
class PurgeScope:
    """What a purge function gets: the cursor of the purge's transaction (the advisory lock is held),
    the cut-off, and the SQL subqueries of the person and task ids this step purges."""

    cursor: Any
    cutoff: datetime
    persons: str = PERSONS
    tasks: str = TASKS


@dataclass(frozen=True)
class SweepScope:
    """What a sweep gets: data older than `cutoff` (now - RETENTION_DAYS) is due; `now` for sweeps with
    a shorter life of their own (upload previews); with `dry_run` it counts and changes nothing."""

    now: datetime
    cutoff: datetime
    dry_run: bool


class Purge(Protocol):
    def __call__(self, scope: PurgeScope, registration: Registration, /) -> int: ...


class Rotate(Protocol):
    def __call__(self, model: type[models.Model], /, *, batch_size: int, log: Log | None) -> int: ...


Sweep = Callable[[SweepScope], int]


@dataclass(frozen=True)
class Registration:
    model: type[models.Model]
    where: str = ""
    clear: Mapping[str, str] = field(default_factory=dict)
    purge: Purge | None = None
    # Change-history keys removed with the purge besides the cleared columns' field names.
    history: tuple[str, ...] = ()
    # The change history's text of the object (str(obj)) names the person: replaced by '#<pk>'.
    history_repr: bool = False
    counter: str = ""
    reencrypt: Rotate | None = None
    sweep: Sweep | None = None
    keep: Mapping[str, str] = field(default_factory=dict)
    exempt: str = ""
    rehash: Callable[..., Any] | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def purges(self) -> bool:
        return bool(self.where) or self.sweep is not None

    def rows_sql(self, scope: PurgeScope) -> str:
        """SQL selecting the primary keys of this model's rows of the purged persons."""
        return f"SELECT {self.model._meta.pk.column} FROM {self.table} WHERE {self.condition(scope)}"

    def condition(self, scope: PurgeScope) -> str:
        return "(" + self.where.format(persons=scope.persons, tasks=scope.tasks) + ")"

    def history_fields(self) -> list[str]:
        by_column = {f.column: f.name for f in self.model._meta.concrete_fields}
        names = [by_column.get(column, column) for column in self.clear]
        return names + [name for name in self.history if name not in names]

    def declared_fields(self) -> set[str]:
        """Every field this registration accounts for: cleared, scrubbed from the history, or kept."""
        by_column = {f.column: f.name for f in self.model._meta.concrete_fields}
        return {by_column.get(c, c) for c in self.clear} | set(self.history) | set(self.keep)


@dataclass(frozen=True)
class FileSweep:
    """Personal data outside the database (files on disk), deleted by age."""

    name: str
    sweep: Sweep
    counter: str = ""


_registry: dict[str, Registration] = {}
_file_sweeps: dict[str, FileSweep] = {}


def register(
    model: type[models.Model],
    *,
    where: str = "",
    clear: Mapping[str, str] | Iterable[str] = (),
    purge: Purge | None = None,
    history: Iterable[str] = (),
    history_repr: bool = False,
    counter: str = "",
    reencrypt: Rotate | None = None,
    sweep: Sweep | None = None,
    keep: Mapping[str, str] | None = None,
    exempt: str = "",
    rehash: Callable[..., Any] | None = None,
) -> Registration:
    """Declare the personal data of `model` (see the module docstring). `clear` given as a list of
    columns clears each to ''. Raises ImproperlyConfigured on a second registration of the same model
    or a registration that says nothing."""
    cleared = dict(clear) if isinstance(clear, Mapping) else dict.fromkeys(clear, "''")
    registration = Registration(
        model=model,
        where=where,
        clear=cleared,
        purge=purge,
        history=tuple(history),
        history_repr=history_repr,
        counter=counter,
        reencrypt=reencrypt,
        sweep=sweep,
        keep=dict(keep or {}),
        exempt=exempt,
        rehash=rehash,
    )
    label = registration.label
    if label in _registry and _registry[label] != registration:
        raise ImproperlyConfigured(f"lifecycle: {label} is registered twice")
    if where and not (cleared or purge):
        raise ImproperlyConfigured(
            f"lifecycle: {label} selects rows (where) but neither clears nor purges them"
        )
    if (cleared or purge) and not where:
        raise ImproperlyConfigured(
            f"lifecycle: {label} purges without `where` (which rows are the person's?)"
        )
    if not (registration.purges or reencrypt or exempt):
        raise ImproperlyConfigured(
            f"lifecycle: {label} needs a purge, a sweep, a re-encryption or an exemption"
        )
    _registry[label] = registration
    return registration


def register_files(name: str, sweep: Sweep, *, counter: str = "") -> FileSweep:
    item = FileSweep(name=name, sweep=sweep, counter=counter)
    _file_sweeps[name] = item
    return item


def registrations() -> list[Registration]:
    """Every registration, in the order of registration (the apps' order in INSTALLED_APPS)."""
    return list(_registry.values())


def registration_for(model: type[models.Model]) -> Registration | None:
    return _registry.get(model._meta.label)


def file_sweeps() -> list[FileSweep]:
    return list(_file_sweeps.values())


# --- what tasks/retention.py runs for each registration ---------------------------------------------------


def run_purge(scope: PurgeScope, registration: Registration) -> int:
    """Anonymise the registration's rows of the purged persons. Returns the rows changed."""
    if registration.purge is not None:
        return registration.purge(scope, registration)
    sets = ", ".join(f"{column} = {value}" for column, value in registration.clear.items())
    scope.cursor.execute(f"UPDATE {registration.table} SET {sets} WHERE {registration.condition(scope)}")
    return scope.cursor.rowcount


def scrub_history(scope: PurgeScope, registration: Registration) -> int:
    """Remove the purged fields from django-auditlog's change history of the registration's rows: the
    keys leave `changes`, the text rendering and the serialized copy are emptied, and with
    `history_repr` the object's text becomes '#<pk>'. Returns the history rows changed (0 when the
    model is not in the change history)."""
    from auditlog.models import LogEntry
    from auditlog.registry import auditlog
    from django.contrib.contenttypes.models import ContentType

    if not auditlog.contains(registration.model) or not registration.where:
        return 0
    content_type = ContentType.objects.get_for_model(registration.model).pk
    repr_sql = ", object_repr = '#' || object_pk" if registration.history_repr else ""
    scope.cursor.execute(
        f"""UPDATE {LogEntry._meta.db_table}
            SET changes = changes - %s::text[], changes_text = '', serialized_data = NULL{repr_sql}
            WHERE content_type_id = %s AND object_id IN ({registration.rows_sql(scope)})""",
        [registration.history_fields(), content_type],
    )
    return scope.cursor.rowcount


def scrub_json_keys(column: str, blank: Mapping[str, str]) -> str:
    """SQL: the jsonb object `column` with the given keys set to '' where it has them (other values and
    non-objects unchanged). For JSON copies of personal data (notice variables, finding params)."""
    keys = ", ".join(f"'{k}'" for k in blank)
    patch = "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in blank.items()) + ")"
    return (
        f"CASE WHEN jsonb_typeof({column}) = 'object' AND {column} ?| ARRAY[{keys}] "
        f"THEN {column} || (SELECT COALESCE(jsonb_object_agg(key, value), '{{}}'::jsonb) "
        f"FROM jsonb_each({patch}) WHERE {column} ? key) ELSE {column} END"
    )
