"""Validation of incoming leads, shared by every channel (API, CSV/XLSX upload, import_leads, the manual
form). Pure Python per row, plus one query per chunk for the division codes and related tasks it names,
so 10,000 rows validate in well under a second.

Rules (README "Unified intake" quotes them):

- `source`: one of the Source identifiers. `reported_at`: ISO 8601; without a UTC offset it is read in
  settings.TIME_ZONE; at most 10 minutes in the future.
- The person must be findable: `id_number`, or `phone`, or `name` + `address`.
- `id_number`: 18 characters (17 digits + digit or X, a final lower-case x is upper-cased) with a valid
  birth date and the GB 11643 (ISO 7064 MOD 11-2) check digit; or the legacy 15-digit form (birth date
  19YYMMDD, no check digit). For matching, a 15-digit number is upgraded to its 18-digit form ('19'
  inserted after digit 6, check digit computed), so both forms resolve to the same person.
- `id_type` (optional, default `resident_id`): `resident_id`, `passport`, `hk_macao_permit`, `taiwan_permit`,
  `foreign_permanent_resident`, `other` (clean_document; docs/people.md). A resident ID's first two digits
  must be a province code; a region (six digits) missing from the division codes only sets the lead's
  `id_region_unknown` flag.
- `phone`: a mainland mobile (11 digits starting with 1[3-9]; spaces, hyphens and a +86/0086 prefix are
  formatting), stored as its 11 digits; any other valid number (a landline with its area code, +852 …)
  is stored in E.164 (clean_phone, `phonenumbers` with region CN).
- The lead must hang off the territory: a known `division_code` (any level, 2–12 digits, or the padded
  12-digit form), or, without one, an `address` naming a known county (区/县) — unique, or made unique
  by the city or province also named. Without either the row is rejected: a task must have a
  jurisdiction, and guessing one would send it to the wrong team.
- `current_division_code` (optional): where the person is now ("follow the person"), a known code.
- `close_contact` leads need `related_task`, the id of an existing task that found them.
- Nothing invalid is "fixed": trimming whitespace and upper-casing a final x are the only changes.

Persons are matched on keyed hashes only (HMAC-SHA256 with settings.PERSON_HASH_KEY), never on
plaintext, so that encrypting `id_number`/`phone` at rest later changes nothing here:
`person_key` = "id:" + hash(18-digit ID, or "type|number" for other documents) when there is one, else "pn:" + hash(phone + normalised
name) when there is a phone, else "lead:" + a random token (a name + address alone never merges
automatically: two people may share a name in one village).
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from operator import mul
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Level, Priority, Source, normalize_code

MAX_ADDRESS = 500
MAX_REASON = 2000
MAX_NAME = 50
MAX_EXTERNAL_ID = 100
FUTURE_TOLERANCE = timedelta(minutes=10)

LEAD_FIELDS = (
    "source",
    "external_id",
    "id_type",
    "id_number",
    "name",
    "phone",
    "division_code",
    "current_division_code",
    "address",
    "reason",
    "reported_at",
    "related_task",
    "payload",
)

# Close contact of a confirmed case > red code > big-data hit > yellow code > returnee > tip.
SOURCE_PRIORITY: dict[str, int] = {
    Source.CLOSE_CONTACT: Priority.CLOSE_CONTACT,
    Source.RED_CODE: Priority.RED_CODE,
    Source.BIG_DATA: Priority.BIG_DATA,
    Source.YELLOW_CODE: Priority.YELLOW_CODE,
    Source.RETURNEE: Priority.RETURNEE,
    Source.COMMUNITY: Priority.TIP,
    Source.HOTLINE: Priority.TIP,
    Source.MANUAL: Priority.TIP,
}
SOURCES = frozenset(Source.values)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID18 = re.compile(r"\d{17}[\dX]")
_ID15 = re.compile(r"\d{15}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE_FORMATTING = re.compile(r"[\s\-()]")
_SPACES = re.compile(r"\s+")
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", ".": "·", "．": "·"})


# --- resident ID (GB 11643) ---------------------------------------------------------------------------


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID."""
    if len(first17) == 17 and first17.isdigit():
        # The weights are 2**(17 - i) mod 11, and 13 ≡ 2 (mod 11): the weighted sum is 2 × the digits
        # read as a base-13 number, mod 11 (one C call instead of 17 multiplications).
        return _ID_CHECK[2 * int(first17, 13) % 11]
    return _ID_CHECK[sum(map(mul, map(int, first17), _ID_WEIGHTS)) % 11]


def upgrade_id15(id15: str) -> str:
    """The 18-digit form of a legacy 15-digit ID: '19' after the 6-digit region, then the check digit."""
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + id_check_digit(first17)


def _birth_date_problem(text: str, today: date) -> str | None:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return _("birth date %(date)s is not a date") % {"date": text}
    if born > today:
        return _("birth date %(date)s is in the future") % {"date": text}
    if born.year < 1900:
        return _("birth date %(date)s is before 1900") % {"date": text}
    return None


def clean_id_number(raw: str, today: date | None = None) -> tuple[str, str]:
    """Return (the ID as given, normalised; its 18-digit form for matching) or raise ValueError(reason)."""
    value = raw.strip()
    if value.endswith("x"):
        value = value[:-1] + "X"
    today = today or timezone.localdate()
    if len(value) == 18:
        if not _ID18.fullmatch(value):
            raise ValueError(_("only digits, with X allowed as the last character"))
        problem = _birth_date_problem(value[6:14], today)
        if problem:
            raise ValueError(problem)
        expected = id_check_digit(value[:17])
        if value[17] != expected:
            raise ValueError(
                _("check digit should be %(expected)s, got %(got)s")
                % {"expected": expected, "got": value[17]}
            )
        return value, value
    if len(value) == 15:
        if not _ID15.fullmatch(value):
            raise ValueError(_("a 15-digit resident ID has only digits"))
        problem = _birth_date_problem("19" + value[6:12], today)
        if problem:
            raise ValueError(problem)
        return value, upgrade_id15(value)
    raise ValueError(
        _("a resident ID has 18 characters (or 15 digits in the old format), got %(n)d") % {"n": len(value)}
    )


# --- identity documents ----------------------------------------------------------------------------------

RESIDENT_ID = "resident_id"
ID_TYPES = (
    RESIDENT_ID,
    "passport",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_resident",
    "other",
)
_ID_TYPE_SET = frozenset(ID_TYPES)
# ICAO 9303: a machine-readable passport's number is at most 9 letters and digits (E12345678, EA1234567).
_PASSPORT = re.compile(r"[A-Z0-9]{5,9}")
# Home-return permit: H (Hong Kong) or M (Macao) and 8 digits (card), 10 in the older booklet.
_HK_MACAO = re.compile(r"[HM]\d{8}(\d{2})?")
_TAIWAN = re.compile(r"\d{8}")
# Foreigner's permanent residence ID: 3-letter nationality and 12 digits (2004/2017 cards), or since
# 2023 the 18-character form of a resident ID beginning with 9 (with its check digit).
_FOREIGN_OLD = re.compile(r"[A-Z]{3}\d{12}")
_FOREIGN_2023 = re.compile(r"9\d{16}[\dX]")
_DOCUMENT_FORMATTING = re.compile(r"[\s\-]")
MAX_OTHER_DOCUMENT = 30
# Province-level codes (GB/T 2260), the first two digits of a resident ID's region: anything else
# (000000…, 999999…) is not a region at all. 71/81/82 are Taiwan, Hong Kong and Macao; 83 the residence
# permits of their residents.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def clean_id_type(raw: str) -> str:
    """The document type ('' means a resident ID) or ValueError(reason)."""
    value = raw.strip().lower() or RESIDENT_ID
    if value not in _ID_TYPE_SET:
        raise ValueError(
            _("unknown document type %(value)s; one of %(choices)s")
            % {"value": raw[:40], "choices": ", ".join(ID_TYPES)}
        )
    return value


def clean_document(id_type: str, raw: str, today: date | None = None) -> tuple[str, str]:
    """Return (the number as stored, the text its blind index is computed from) or raise
    ValueError(reason). A resident ID keeps its matching text (the 18-digit form) so that the records
    written before document types existed still match; every other type's text starts with the type,
    so a passport and a permit with the same number are different people."""
    if id_type == RESIDENT_ID:
        value, id18 = clean_id_number(raw, today)
        problem = resident_region_problem(value[:6])
        if problem:
            raise ValueError(problem)
        return value, id18
    if id_type == "other":
        value = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw).strip()).upper()
        if len(value) > MAX_OTHER_DOCUMENT:
            raise ValueError(
                _("at most %(n)d characters, got %(got)d") % {"n": MAX_OTHER_DOCUMENT, "got": len(value)}
            )
        return value, f"{id_type}|{_DOCUMENT_FORMATTING.sub('', value)}"
    value = _DOCUMENT_FORMATTING.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if id_type == "passport":
        if not _PASSPORT.fullmatch(value) or not any(c.isdigit() for c in value):
            raise ValueError(_("a passport number has 5 to 9 letters and digits (e.g. E12345678)"))
    elif id_type == "hk_macao_permit":
        if not _HK_MACAO.fullmatch(value):
            raise ValueError(
                _("a Hong Kong/Macao permit number is H or M followed by 8 or 10 digits (e.g. H12345678)")
            )
    elif id_type == "taiwan_permit":
        if not _TAIWAN.fullmatch(value):
            raise ValueError(_("a Taiwan permit number has 8 digits"))
    elif id_type == "foreign_permanent_resident":
        _check_foreign_permanent_resident(value, today or timezone.localdate())
    return value, f"{id_type}|{value}"


def _check_foreign_permanent_resident(value: str, today: date) -> None:
    if len(value) == 18:
        if not _FOREIGN_2023.fullmatch(value):
            raise ValueError(
                _(
                    "an 18-character permanent residence ID starts with 9 and has only digits, with X allowed last"
                )
            )
        problem = _birth_date_problem(value[6:14], today)
        if problem:
            raise ValueError(problem)
        expected = id_check_digit(value[:17])
        if value[17] != expected:
            raise ValueError(
                _("check digit should be %(expected)s, got %(got)s")
                % {"expected": expected, "got": value[17]}
            )
        return
    if not _FOREIGN_OLD.fullmatch(value):
        raise ValueError(
            _(
                "a permanent residence ID has 3 letters and 12 digits (old form, e.g. USA123456789012) "
                "or 18 characters starting with 9 (2023 form)"
            )
        )


def resident_region_problem(region: str) -> str | None:
    """Why the first six digits of a resident ID cannot be a region, or None. Only the province is
    checked here; the region itself is looked up in the division codes (unknown: a warning)."""
    if region[:2] not in _PROVINCES:
        return _("the region %(region)s is not an administrative division code") % {"region": region}
    return None


def region_codes(region: str) -> tuple[str, ...]:
    """The division codes a resident ID's region may be found under: the county, or for a region
    ending in 00 the city (460100 → 4601) and 0000 the province."""
    if region.endswith("0000"):
        return (region[:2],)
    if region.endswith("00"):
        return (region, region[:4])
    return (region,)


def clean_phone(raw: str) -> str:
    """A contact number as stored: a mainland mobile as its 11 digits (as always: its hash is unchanged),
    any other valid number (a landline, +852 …) in E.164, read as a mainland number without a country
    code. Raises ValueError(reason)."""
    try:
        return clean_mobile(raw)
    except ValueError:
        pass
    # Imported on first use: most numbers are mainland mobiles, and the library's metadata is large.
    import phonenumbers

    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            _(
                "not a phone number: not a mainland mobile number (11 digits starting with 1[3-9]), "
                "nor a landline with its area code, nor an international number (+852 …)"
            )
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith("+86") and _MOBILE.fullmatch(e164[3:]):
        return e164[3:]
    return e164


# --- phones and names ------------------------------------------------------------------------------------


def clean_mobile(raw: str) -> str:
    value = _PHONE_FORMATTING.sub("", raw.strip())
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    if not _MOBILE.fullmatch(value):
        raise ValueError(_("not a mainland mobile number (11 digits starting with 1[3-9])"))
    return value


def clean_name(raw: str) -> str:
    """The name as it will be stored: trimmed, inner runs of whitespace collapsed to one space."""
    return _SPACES.sub(" ", raw.strip())


def name_key(name: str) -> str:
    """The form of a name used for matching: NFKC (full-width → half-width), no whitespace, one kind of
    middle dot (艾力·买买提 = 艾力•买买提), case-folded (pinyin spellings)."""
    return "".join(unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS).split()).casefold()


# --- keyed hashes ----------------------------------------------------------------------------------------


class _Hasher:
    """HMAC-SHA256 with one key, from SHA-256 states pre-loaded with the key's inner and outer pads
    (RFC 2104): copying two hash objects per value instead of building an hmac.HMAC object, about a
    third of the cost. Same digests as hmac.new(key, msg, sha256)."""

    __slots__ = ("key", "_inner", "_outer")

    def __init__(self, key: str):
        raw = key.encode()
        if len(raw) > 64:  # SHA-256's block size: longer keys are hashed first (RFC 2104)
            raw = sha256(raw).digest()
        raw = raw.ljust(64, b"\0")
        self.key = key
        self._inner = sha256(bytes(b ^ 0x36 for b in raw))
        self._outer = sha256(bytes(b ^ 0x5C for b in raw))

    def __call__(self, purpose: str, value: str) -> str:
        inner = self._inner.copy()
        inner.update(f"{purpose}|{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_hasher_cache: _Hasher | None = None


def _hasher() -> _Hasher:
    """The hasher of settings.PERSON_HASH_KEY (read on every call: tests and key changes are honoured)."""
    global _hasher_cache
    key = settings.PERSON_HASH_KEY
    if _hasher_cache is None or _hasher_cache.key != key:
        _hasher_cache = _Hasher(key)
    return _hasher_cache


def _hmac(purpose: str, value: str) -> str:
    return _hasher()(purpose, value)


def id_number_hash(id18: str) -> str:
    return _hmac("id", id18)


def phone_hash(phone: str) -> str:
    return _hmac("phone", phone)


def birth_date_of(id18: str) -> str:
    """The birth date (YYYYMMDD) a document's matching text carries, or '': digits 7–14 of a resident
    ID's 18-digit form (a 15-digit ID is matched on its upgraded form, 19 + digits 7–12) and of the 2023
    form of a foreigner's permanent residence ID. The other documents' numbers carry none."""
    if len(id18) == 18 and id18[:17].isdigit():  # "passport|E12345678" has 18 characters too
        return id18[6:14]
    prefix = "foreign_permanent_resident|"
    if id18.startswith(prefix) and len(id18) == len(prefix) + 18:
        return id18[len(prefix) + 6 : len(prefix) + 14]
    return ""


def name_birth_hash(name: str, id18: str, hasher: _Hasher | None = None) -> str:
    """The blind feature of "same name, same birth date": a keyed hash of the normalised name and the
    birth date from the document, '' without either. Of the two, only persons sharing both compare
    equal; a hash of the birth date alone would group everyone born on one day."""
    born = birth_date_of(id18) if id18 else ""
    key = name_key(name) if name and born else ""
    if not key:
        return ""
    return (hasher or _hasher())("nb", f"{key}|{born}")


def name_hash(name: str, hasher: _Hasher | None = None) -> str:
    """The blind index of a name (search by exact name, duplicates): HMAC of its matching form
    (name_key); '' for no name."""
    key = name_key(name)
    return (hasher or _hasher())("name", key) if key else ""


def sound_hash(sound: str) -> str:
    """The blind index of a name's sound (pinyin without tones, tasks.duplicates.name_sound)."""
    return _hmac("sound", sound) if sound else ""


def person_key(*, id18: str = "", phone: str = "", name: str = "", hasher: _Hasher | None = None) -> str:
    hasher = hasher or _hasher()
    if id18:
        return "id:" + hasher("id", id18)
    if phone:
        return "pn:" + hasher("pn", f"{phone}|{name_key(name)}")
    return "lead:" + secrets.token_hex(16)


# --- reported_at -----------------------------------------------------------------------------------------


EARLIEST_DATETIME = datetime(2000, 1, 1, tzinfo=UTC)


def clean_datetime(raw: Any, now: datetime, tz=None) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        text = str(raw).strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                _("%(value)s is not a date and time (use ISO 8601, e.g. 2024-05-01T08:30:00+08:00)")
                % {"value": text[:40]}
            ) from None
    if value.tzinfo is None:
        # zoneinfo resolves the offset from the wall time (replace() is correct with zoneinfo, not pytz).
        value = value.replace(tzinfo=tz or timezone.get_current_timezone())
    if value > now + FUTURE_TOLERANCE:
        raise ValueError(_("%(value)s is in the future") % {"value": value.isoformat()})
    if value < EARLIEST_DATETIME:
        # Nothing is reported from before then; year-1 dates also overflow the clocks' arithmetic.
        raise ValueError(_("%(value)s is before 2000") % {"value": value.isoformat()})
    return value


# --- county from an address ------------------------------------------------------------------------------


class CountyIndex:
    """Counties (and county-level cities) found by name in free-text addresses, disambiguated by the
    city or province named beside them. Built from one query, cached for the validator's lifetime."""

    def __init__(self, cursor=None):
        self.by_name: dict[str, list[str]] = {}
        self.upper_by_name: dict[str, list[str]] = {}
        with cursor or connection.cursor() as cursor:
            cursor.execute(
                "SELECT code, name, level FROM tasks_division WHERE level IN ('province', 'city', 'county')"
            )
            for code, name, level in cursor.fetchall():
                target = self.by_name if level == Level.COUNTY else self.upper_by_name
                target.setdefault(name, []).append(code)
                short = _short_upper_name(name) if level != Level.COUNTY else None
                if short and short != name:
                    target.setdefault(short, []).append(code)
        self.lengths = sorted(
            {len(n) for n in self.by_name} | {len(n) for n in self.upper_by_name}, reverse=True
        )
        # The lengths of the names beginning with each character: only positions where a name can start
        # are looked at, and only with the lengths of the names starting with that character.
        self.lengths_by_first: dict[str, tuple[int, ...]] = {}
        for name in (*self.by_name, *self.upper_by_name):
            if name:
                self.lengths_by_first[name[0]] = (*self.lengths_by_first.get(name[0], ()), len(name))
        self.lengths_by_first = {
            c: tuple(sorted(set(ls), reverse=True)) for c, ls in self.lengths_by_first.items()
        }

    def _names_in(self, address: str, table: dict[str, list[str]]) -> set[str]:
        """The codes of every name of `table` that appears in the address (overlaps included)."""
        found: set[str] = set()
        n = len(address)
        lengths_by_first = self.lengths_by_first
        for start, char in enumerate(address):
            lengths = lengths_by_first.get(char)
            if lengths:
                for length in lengths:
                    if start + length <= n:
                        codes = table.get(address[start : start + length])
                        if codes:
                            found.update(codes)
        return found

    def county_of(self, address: str) -> str | None:
        counties = self._names_in(address, self.by_name)
        if len(counties) <= 1:
            return next(iter(counties), None)
        uppers = self._names_in(address, self.upper_by_name)
        narrowed = {c for c in counties if any(c.startswith(u) for u in uppers)}
        return next(iter(narrowed)) if len(narrowed) == 1 else None


def _short_upper_name(name: str) -> str | None:
    # "海南省" is often written "海南", "海口市" as "海口"; counties keep their suffix (区/县 are needed
    # to tell 城区 apart from everything else).
    for suffix in ("省", "市", "自治区", "特别行政区"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


# --- the validator ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CleanLead:
    index: int
    source: str
    external_id: str
    id_number: str
    id_number_hash: str
    name: str
    phone: str
    phone_hash: str
    division_id: str | None
    current_division_id: str | None
    address: str
    reason: str
    reported_at: datetime
    related_task_id: int | None
    payload: dict
    priority: int
    person_key: str
    id_type: str = "resident_id"
    # A resident ID whose region is not among the division codes (an old code, or a typo): kept, flagged.
    id_region_unknown: bool = False
    # Keyed hash of the normalised name and the birth date from the document (name_birth_hash).
    name_birth_hash: str = ""
    name_hash: str = ""


@dataclass(slots=True)
class Rejection:
    index: int
    external_id: str
    source: str
    errors: dict[str, list[str]]
    row: Any

    def as_response(self) -> dict:
        return {"index": self.index, "external_id": self.external_id or None, "errors": self.errors}


@dataclass(slots=True)
class _Pending:
    index: int
    values: dict[str, Any]
    errors: dict[str, list[str]]
    row: Any
    division_code: str | None = None
    current_division_code: str | None = None
    related_task: int | None = None


@dataclass
class LeadValidator:
    """Validates chunks of rows. Keep one validator for a whole file: it caches the division codes and
    task ids it has already looked up."""

    default_source: str | None = None
    now: datetime = field(default_factory=timezone.now)
    _known_codes: dict[str, bool] = field(default_factory=dict)
    _known_tasks: dict[int, bool] = field(default_factory=dict)
    _county_index: CountyIndex | None = None
    _tz: Any = None
    _normalized_codes: dict[str, str] = field(default_factory=dict)
    _known_regions: dict[str, bool] = field(default_factory=dict)
    # Where the lookups run: a callable returning a DB-API cursor (a context manager); by default one
    # of Django's connection (worker processes of leads_io.import_csv give their own connection's).
    cursor: Callable[[], Any] | None = None
    # The division code prefix the sender is confined to (its account's territory: a county duty
    # officer sends leads of its county only); None: anywhere (the command line, a superuser).
    scope: str | None = None
    _task_divisions: dict[int, str] = field(default_factory=dict)

    def validate(self, rows: list[Any], *, start_index: int = 0) -> tuple[list[CleanLead], list[Rejection]]:
        today = timezone.localtime(self.now).date()
        self._tz = timezone.get_current_timezone()
        check_row = self._check_row
        pending = [check_row(row, start_index + i, today) for i, row in enumerate(rows)]
        self._lookup(pending)
        self._lookup_regions(pending)
        hasher = _hasher()
        check_references = self._check_references
        clean: list[CleanLead] = []
        rejected: list[Rejection] = []
        for item in pending:
            check_references(item)
            v = item.values
            if item.errors:
                rejected.append(
                    Rejection(
                        item.index,
                        v.get("external_id", ""),
                        v.get("source", ""),
                        item.errors,
                        _jsonable(item.row),
                    )
                )
                continue
            id18 = v.get("id18", "")
            phone = v.get("phone", "")
            name = v.get("name", "")
            id_hash = hasher("id", id18) if id18 else ""
            source = v["source"]
            clean.append(
                CleanLead(
                    item.index,  # index
                    source,
                    v.get("external_id", ""),
                    v.get("id_number", ""),
                    id_hash,  # id_number_hash
                    name,
                    phone,
                    hasher("phone", phone) if phone else "",  # phone_hash
                    v.get("division_id"),
                    v.get("current_division_id"),
                    v.get("address", ""),
                    v.get("reason", ""),
                    v["reported_at"],
                    item.related_task,  # related_task_id
                    v.get("payload") or {},
                    SOURCE_PRIORITY[source],  # priority
                    # The ID's hash is the person key when there is one: computed once.
                    ("id:" + id_hash) if id_hash else person_key(phone=phone, name=name, hasher=hasher),
                    v.get("id_type", RESIDENT_ID),
                    bool(v.get("id_region")) and not self._known_regions.get(v["id_region"], False),
                    name_birth_hash(name, id18, hasher) if id18 and name else "",
                    name_hash(name, hasher) if name else "",
                )
            )
        return clean, rejected

    # Row-local checks: no database. The hot loop of every import: plain functions and exact-type
    # fast paths (see _text), no closures; the order of the checks is the order of the reasons.
    def _check_row(self, row: Any, index: int, today: date) -> _Pending:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        item = _Pending(index, values, errors, row)

        if not isinstance(row, dict):
            _fail(errors, "non_field_errors", _("a lead is a JSON object"))
            return item
        for key, raw in row.items():
            if key not in _LEAD_FIELD_SET:
                _fail(errors, str(key), _("unknown field; put source-specific fields in payload"))
            elif ("\x00" in raw) if raw.__class__ is str else _has_nul(raw):
                # PostgreSQL text and jsonb cannot hold U+0000: refused here instead of failing the COPY (a 500).
                _fail(errors, str(key), _("must not contain NUL characters"))
            elif _has_surrogate(raw):
                # Nor a lone surrogate (not encodable as UTF-8): the row is refused, not the whole batch.
                _fail(errors, str(key), _("must not contain lone surrogates (not valid Unicode text)"))

        source = _text(row, "source", errors) or (self.default_source or "")
        if not source:
            _fail(errors, "source", _("required"))
        elif source not in SOURCES:
            _fail(
                errors,
                "source",
                _("unknown source %(value)s; one of %(choices)s")
                % {"value": source, "choices": ", ".join(Source.values)},
            )
        else:
            values["source"] = source
        values["external_id"] = _text(row, "external_id", errors, MAX_EXTERNAL_ID)
        name = _text(row, "name", errors, MAX_NAME)
        values["name"] = name = clean_name(name) if name else ""
        values["address"] = address = _text(row, "address", errors, MAX_ADDRESS)
        values["reason"] = _text(row, "reason", errors, MAX_REASON)

        raw_id = _check_document(row, values, errors, today)
        raw_phone = _text(row, "phone", errors)
        if raw_phone:
            try:
                values["phone"] = clean_phone(raw_phone)
            except ValueError as exc:
                _fail(errors, "phone", str(exc))
        if not (raw_id or raw_phone or (name and address)):
            _fail(
                errors,
                "id_number",
                _("required to find the person: give id_number, or phone, or name and address"),
            )

        raw_reported = row.get("reported_at")
        if raw_reported is None or raw_reported == "":
            _fail(errors, "reported_at", _("required"))
        else:
            try:
                values["reported_at"] = clean_datetime(raw_reported, self.now, self._tz)
            except ValueError as exc:
                _fail(errors, "reported_at", str(exc))

        for code_field in ("division_code", "current_division_code"):
            raw_code = _text(row, code_field, errors)
            if raw_code:
                try:
                    setattr(item, code_field, self._normalize_code(raw_code))
                except ValueError as exc:
                    _fail(errors, code_field, str(exc))
        if not address and not _raw_text(row.get("division_code")):
            _fail(
                errors,
                "division_code",
                _("required: give division_code, or an address that names a known county"),
            )

        raw_task = row.get("related_task")
        if raw_task is not None and raw_task != "":
            try:
                item.related_task = int(str(raw_task).strip())
                if item.related_task <= 0:
                    raise ValueError
            except ValueError:
                _fail(errors, "related_task", _("must be the id of a task (a positive whole number)"))
        elif source == Source.CLOSE_CONTACT:
            _fail(
                errors,
                "related_task",
                _("required for close_contact leads: the id of the task that found this contact"),
            )

        payload = row.get("payload")
        if payload is None or payload == "":
            values["payload"] = {}
        elif isinstance(payload, dict):
            values["payload"] = payload
        elif isinstance(payload, str):
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                values["payload"] = parsed
            else:
                _fail(errors, "payload", _("must be a JSON object"))
        else:
            _fail(errors, "payload", _("must be a JSON object"))
        return item

    def _normalize_code(self, raw_code: str) -> str:
        """normalize_code, remembered per raw code (a file names the same villages over and over)."""
        code = self._normalized_codes.get(raw_code)
        if code is None:
            code = self._normalized_codes[raw_code] = normalize_code(raw_code)
        return code

    # One query per chunk for the codes and task ids not seen before.
    def _lookup(self, pending: list[_Pending]) -> None:
        codes = {
            c
            for p in pending
            for c in (p.division_code, p.current_division_code)
            if c and c not in self._known_codes
        }
        tasks = {
            p.related_task for p in pending if p.related_task and p.related_task not in self._known_tasks
        }
        if codes:
            with self._cursor() as cursor:
                cursor.execute("SELECT code FROM tasks_division WHERE code = ANY(%s)", [list(codes)])
                found = {row[0] for row in cursor.fetchall()}
            self._known_codes.update({c: c in found for c in codes})
        if tasks:
            with self._cursor() as cursor:
                cursor.execute(
                    "SELECT id, division_id FROM tasks_tracingtask WHERE id = ANY(%s)", [list(tasks)]
                )
                found_ids = dict(cursor.fetchall())
            self._known_tasks.update({t: t in found_ids for t in tasks})
            self._task_divisions.update({t: division or "" for t, division in found_ids.items()})

    def _lookup_regions(self, pending: list[_Pending]) -> None:
        """Whether the region of each resident ID is a known division code (one query per chunk)."""
        regions = {
            p.values["id_region"]
            for p in pending
            if p.values.get("id_region") and p.values["id_region"] not in self._known_regions
        }
        if not regions:
            return
        candidates = {r: region_codes(r) for r in regions}
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT code FROM tasks_division WHERE code = ANY(%s)",
                [sorted({c for codes in candidates.values() for c in codes})],
            )
            found = {row[0] for row in cursor.fetchall()}
        self._known_regions.update({r: any(c in found for c in codes) for r, codes in candidates.items()})

    def _check_references(self, item: _Pending) -> None:
        errors, values = item.errors, item.values
        if item.division_code:
            if self._known_codes.get(item.division_code):
                values["division_id"] = item.division_code
            else:
                errors.setdefault("division_code", []).append(
                    _("no division has code %(code)s") % {"code": item.division_code}
                )
        elif values.get("address") and "division_code" not in errors:
            county = self.county_index.county_of(values["address"])
            if county:
                values["division_id"] = county
            else:
                errors.setdefault("division_code", []).append(
                    _("required: the address names no known county (区/县) unambiguously; give division_code")
                )
        if item.current_division_code:
            if self._known_codes.get(item.current_division_code):
                values["current_division_id"] = item.current_division_code
            else:
                errors.setdefault("current_division_code", []).append(
                    _("no division has code %(code)s") % {"code": item.current_division_code}
                )
        if item.related_task and not (
            self._known_tasks.get(item.related_task)
            and self._in_scope(self._task_divisions.get(item.related_task, ""))
        ):
            # A task outside the sender's territory is answered like a missing one: the answer must
            # not tell which ids exist elsewhere.
            errors.setdefault("related_task", []).append(
                _("no task has id %(id)s") % {"id": item.related_task}
            )
        division = values.get("division_id")
        if division and not self._in_scope(division):
            errors.setdefault("division_code", []).append(
                _("%(code)s is outside your territory (%(scope)s): send leads of your territory only")
                % {"code": division, "scope": self.scope}
            )

    def _in_scope(self, code: str) -> bool:
        return self.scope is None or code.startswith(self.scope)

    def _cursor(self):
        return self.cursor() if self.cursor is not None else connection.cursor()

    @property
    def county_index(self) -> CountyIndex:
        if self._county_index is None:
            self._county_index = CountyIndex(self._cursor())
        return self._county_index


_LEAD_FIELD_SET = frozenset(LEAD_FIELDS)


def _check_document(row: dict, values: dict[str, Any], errors: dict[str, list[str]], today: date) -> str:
    """`id_type` and `id_number` of a row into values (id_number, id18: the text of its blind index,
    id_type, id_region of a resident ID); returns the raw number ('' when none was given)."""
    raw_type = _text(row, "id_type", errors)
    try:
        id_type = clean_id_type(raw_type)
    except ValueError as exc:
        _fail(errors, "id_type", str(exc))
        id_type = ""
    raw_id = _text(row, "id_number", errors)
    if raw_id and id_type:
        try:
            values["id_number"], values["id18"] = clean_document(id_type, raw_id, today)
        except ValueError as exc:
            _fail(errors, "id_number", str(exc))
        else:
            values["id_type"] = id_type
            if id_type == RESIDENT_ID:
                values["id_region"] = values["id_number"][:6]
    elif id_type and id_type != RESIDENT_ID:
        _fail(errors, "id_number", _("required with id_type %(type)s") % {"type": id_type})
    return raw_id


def _fail(errors: dict[str, list[str]], name: str, reason: Any) -> None:
    errors.setdefault(name, []).append(str(reason))


def _text(row: dict, name: str, errors: dict[str, list[str]], limit: int | None = None) -> str:
    """The trimmed text of row[name] ('' when absent); records a reason (and gives '') when it is not
    text or longer than `limit`."""
    raw = row.get(name)
    if raw is None:
        return ""
    if raw.__class__ is str:
        value = raw.strip()
    elif isinstance(raw, (dict, list, bool)):
        _fail(errors, name, _("must be text"))
        return ""
    else:
        value = str(raw).strip()
    if limit is not None and len(value) > limit:
        _fail(errors, name, _("at most %(n)d characters, got %(got)d") % {"n": limit, "got": len(value)})
        return ""
    return value


def _raw_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_surrogate(v) for v in value)
    return False


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _jsonable(row: Any) -> Any:
    if isinstance(row, dict):
        return {str(k): _jsonable(v) for k, v in row.items()}
    if isinstance(row, (list, tuple)):
        return [_jsonable(v) for v in row]
    if isinstance(row, (datetime, date)):
        return row.isoformat()
    if row is None or isinstance(row, (str, int, float, bool)):
        return row
    return str(row)
