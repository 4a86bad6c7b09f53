"""Automatic consistency findings on a submitted task (issue 6, step 3).

Computed once per submission, when the review is opened (reviews/services.py `review_open`), and
stored as `Finding` rows that the review page shows next to the entries they concern.

Two layers:

* the rules are pure functions over plain records (`Entry`, `Contact`, `Test`, `Facts`) — unit-tested
  without a database;
* `load_facts(task, ...)` reads the field records of the task (tasks/models/fieldwork.py) into those
  records; it is the only place that knows the field-work models' field names.

Definitions (docs/reviews.md repeats them for the experts):

* **Reference date**: the earliest `reported_at` of the task's leads (the first signal about the
  person), else the task's creation.
* **Investigated window**: from REVIEW_WINDOW_DAYS (14) days before the reference date until the
  submission. Entries outside it are reported (`outside_window`).
* **Coverage end**: the trajectory must account for the person's time until their activity radius
  was limited (`radius_limited_at`: from then on they are under control), else until the submission.
  Stretches with no entry longer than REVIEW_GAP_HOURS between the window start and the coverage end
  are `trajectory_gap`s.
* **Exposure start**: the beginning of the period the trajectory describes: the later of the window
  start and the start of the earliest entry (the window start when there is no trajectory). A close
  contact whose last contact is before it either is not a contact of this period or happened at a
  time the trajectory does not describe (`contact_before_exposure`).
* **Impossible travel**: between two consecutive entries with coordinates (ordered by start), the
  great-circle (haversine) distance over the time from the end of the first (its start when it has no
  end) to the start of the second, above the speed limit of the second entry's declared means of
  transport (the way the person got there), else the first's, else "default"
  (REVIEW_SPEED_LIMITS_KMH). Distances under REVIEW_SPEED_MIN_DISTANCE_KM are never reported
  (geocoding noise). All times are aware datetimes: midnight and time zones need no special case.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# ---- records ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A trajectory entry."""

    id: int
    start: datetime
    end: datetime | None = None
    place: str = ""
    lat: float | None = None
    lon: float | None = None
    mode: str = ""

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def position(self) -> tuple[float, float]:
        """Latitude and longitude of a located entry."""
        if self.lat is None or self.lon is None:
            raise ValueError(f"trajectory entry {self.id} has no location")
        return self.lat, self.lon

    @property
    def until(self) -> datetime:
        """The end, or the start for an entry without an end (a moment)."""
        return self.end if self.end is not None and self.end > self.start else self.start


@dataclass(frozen=True)
class Contact:
    id: int
    name: str = ""
    last_contact_at: datetime | None = None
    last_contact_place: str = ""


@dataclass(frozen=True)
class Test:
    __test__ = False  # a test result, not a pytest class

    id: int
    sampled_at: datetime
    result: str
    test_type: str = ""


@dataclass(frozen=True)
class Facts:
    window_start: datetime
    window_end: datetime
    coverage_end: datetime
    entries: tuple[Entry, ...] = ()
    contacts: tuple[Contact, ...] = ()
    tests: tuple[Test, ...] = ()

    @property
    def exposure_start(self) -> datetime:
        if not self.entries:
            return self.window_start
        return max(self.window_start, min(e.start for e in self.entries))


@dataclass(frozen=True)
class FindingData:
    rule: str
    severity: str
    # ("trajectory" | "contact" | "test", id) or None for the task as a whole.
    target: tuple[str, int] | None
    params: dict[str, Any] = field(default_factory=dict)


# ---- rules ------------------------------------------------------------------------------------------

ERROR, WARNING, INFO = "error", "warning", "info"

# rule code → (title, message template). Titles and messages are translated when shown.
RULES: dict[str, tuple[Any, Any]] = {
    "trajectory_overlap": (
        gettext_lazy("Overlapping entries"),
        gettext_lazy(
            "This entry (%(place)s, from %(start_at)s) overlaps “%(other_place)s” (until %(other_end_at)s) by "
            "%(minutes)s minutes: a person cannot be in two places at once. Correct the times of one of them."
        ),
    ),
    "trajectory_gap": (
        gettext_lazy("Unexplained gap"),
        gettext_lazy(
            "Nothing is recorded from %(from_at)s to %(to_at)s (%(hours)s hours, more than the %(limit)s hours "
            "allowed). Ask the person where they were, or record why it is unknown."
        ),
    ),
    "no_trajectory": (
        gettext_lazy("No trajectory"),
        gettext_lazy(
            "The task was submitted without any trajectory entry for the investigated window (%(from_at)s to %(to_at)s)."
        ),
    ),
    "impossible_travel": (
        gettext_lazy("Impossible travel"),
        gettext_lazy(
            "From “%(from_place)s” (left %(from_at)s) to “%(place)s” (arrived %(to_at)s) is %(km)s km in %(minutes)s "
            "minutes, %(kmh)s km/h: faster than the %(limit)s km/h possible by %(mode)s. A time, a place or the means "
            "of transport is wrong."
        ),
    ),
    "outside_window": (
        gettext_lazy("Outside the investigated window"),
        gettext_lazy(
            "This entry (%(place)s, %(start_at)s) lies outside the investigated window, %(window_start_at)s to "
            "%(window_end_at)s. Check its date."
        ),
    ),
    "contact_incomplete": (
        gettext_lazy("Contact without time or place"),
        gettext_lazy(
            "The close contact %(name)s has no %(missing)s of the last contact: the exposure cannot be assessed."
        ),
    ),
    "positive_without_trajectory": (
        gettext_lazy("Positive test without trajectory"),
        gettext_lazy(
            "The positive test sampled at %(sampled_at)s has no trajectory for %(uncovered)s of the %(days)s days "
            "before it: where the person was then is where others may have been exposed."
        ),
    ),
    "contact_before_exposure": (
        gettext_lazy("Contact before the exposure period"),
        gettext_lazy(
            "The last contact with %(name)s (%(contact_at)s) is before the period the trajectory describes, which "
            "starts %(exposure_at)s: either this is not a contact of this case, or the trajectory misses that time."
        ),
    ),
}

SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _place(entry: Entry) -> str:
    return entry.place or f"#{entry.id}"


def rule_overlap(facts: Facts) -> list[FindingData]:
    """Each entry that starts before the latest end of the entries before it (touching is fine)."""
    found = []
    latest: Entry | None = None
    for entry in sorted(facts.entries, key=lambda e: (e.start, e.id)):
        if latest is not None and entry.start < latest.until:
            overlap_end = min(entry.until, latest.until)
            minutes = max(1, round((overlap_end - entry.start).total_seconds() / 60))
            found.append(
                FindingData(
                    "trajectory_overlap",
                    ERROR,
                    ("trajectory", entry.id),
                    {
                        "place": _place(entry),
                        "start_at": _iso(entry.start),
                        "other_id": latest.id,
                        "other_place": _place(latest),
                        "other_end_at": _iso(latest.until),
                        "minutes": minutes,
                    },
                )
            )
        if latest is None or entry.until > latest.until:
            latest = entry
    return found


def rule_gaps(facts: Facts, *, gap_hours: float) -> list[FindingData]:
    """Stretches of [window start, coverage end] no entry covers, longer than `gap_hours`."""
    start, end = facts.window_start, max(facts.window_start, facts.coverage_end)
    limit = timedelta(hours=gap_hours)
    entries = sorted(facts.entries, key=lambda e: (e.start, e.id))
    if not entries:
        return [FindingData("no_trajectory", ERROR, None, {"from_at": _iso(start), "to_at": _iso(end)})]
    found = []
    cursor = start
    previous: Entry | None = None
    for entry in entries:
        if entry.start > cursor and entry.start - cursor > limit and cursor < end:
            gap_end = min(entry.start, end)
            if gap_end - cursor > limit:
                found.append(_gap(cursor, gap_end, entry, gap_hours))
        if entry.until > cursor:
            cursor = entry.until
        previous = entry
    if end - cursor > limit:
        found.append(_gap(cursor, end, previous, gap_hours))
    return found


def _gap(start: datetime, end: datetime, entry: Entry | None, gap_hours: float) -> FindingData:
    hours = round((end - start).total_seconds() / 3600, 1)
    return FindingData(
        "trajectory_gap",
        WARNING,
        ("trajectory", entry.id) if entry else None,
        {"from_at": _iso(start), "to_at": _iso(end), "hours": hours, "limit": gap_hours},
    )


EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def speed_limit(mode: str, limits: dict[str, int]) -> tuple[str, int]:
    if mode and mode in limits:
        return mode, limits[mode]
    return "default", limits.get("default", 150)


def rule_impossible_travel(facts: Facts, *, limits: dict[str, int], min_km: float) -> list[FindingData]:
    found = []
    located = sorted((e for e in facts.entries if e.located), key=lambda e: (e.start, e.id))
    for first, second in itertools.pairwise(located):
        km = haversine_km(*first.position, *second.position)
        if km < min_km:
            continue
        left = first.until
        hours = (second.start - left).total_seconds() / 3600
        mode, limit = speed_limit(second.mode or first.mode, limits)
        if hours > 0 and km / hours <= limit:
            continue
        kmh = "∞" if hours <= 0 else str(round(km / hours))
        found.append(
            FindingData(
                "impossible_travel",
                ERROR,
                ("trajectory", second.id),
                {
                    "from_id": first.id,
                    "from_place": _place(first),
                    "from_at": _iso(left),
                    "place": _place(second),
                    "to_at": _iso(second.start),
                    "km": round(km, 1),
                    "minutes": round(hours * 60),
                    "kmh": kmh,
                    "limit": limit,
                    "mode": mode,
                },
            )
        )
    return found


def rule_outside_window(facts: Facts) -> list[FindingData]:
    found = []
    for entry in sorted(facts.entries, key=lambda e: (e.start, e.id)):
        if entry.until < facts.window_start or entry.start > facts.window_end:
            found.append(
                FindingData(
                    "outside_window",
                    WARNING,
                    ("trajectory", entry.id),
                    {
                        "place": _place(entry),
                        "start_at": _iso(entry.start),
                        "window_start_at": _iso(facts.window_start),
                        "window_end_at": _iso(facts.window_end),
                        "side": "before" if entry.until < facts.window_start else "after",
                    },
                )
            )
    return found


def rule_contact_incomplete(facts: Facts) -> list[FindingData]:
    found = []
    for contact in facts.contacts:
        missing = []
        if contact.last_contact_at is None:
            missing.append("time")
        if not (contact.last_contact_place or "").strip():
            missing.append("place")
        if missing:
            found.append(
                FindingData(
                    "contact_incomplete",
                    WARNING,
                    ("contact", contact.id),
                    {"name": contact.name, "missing": missing},
                )
            )
    return found


def rule_positive_without_trajectory(facts: Facts, *, lookback_days: int) -> list[FindingData]:
    """For each positive test, the `lookback_days` 24-hour stretches before the sample: those that no
    entry touches. None covered: error; some: warning."""
    found = []
    for test in facts.tests:
        if (test.result or "").lower() != "positive":
            continue
        uncovered = 0
        for day in range(1, lookback_days + 1):
            lo, hi = test.sampled_at - timedelta(days=day), test.sampled_at - timedelta(days=day - 1)
            if not any(e.start < hi and e.until >= lo for e in facts.entries):
                uncovered += 1
        if uncovered:
            found.append(
                FindingData(
                    "positive_without_trajectory",
                    ERROR if uncovered == lookback_days else WARNING,
                    ("test", test.id),
                    {"sampled_at": _iso(test.sampled_at), "uncovered": uncovered, "days": lookback_days},
                )
            )
    return found


def rule_contact_before_exposure(facts: Facts) -> list[FindingData]:
    exposure = facts.exposure_start
    return [
        FindingData(
            "contact_before_exposure",
            WARNING,
            ("contact", contact.id),
            {
                "name": contact.name,
                "contact_at": _iso(contact.last_contact_at),
                "exposure_at": _iso(exposure),
            },
        )
        for contact in facts.contacts
        if contact.last_contact_at is not None and contact.last_contact_at < exposure
    ]


def evaluate(
    facts: Facts,
    *,
    gap_hours: float | None = None,
    limits: dict[str, int] | None = None,
    min_km: float | None = None,
    lookback_days: int | None = None,
) -> list[FindingData]:
    """Every rule over `facts`; thresholds default to the settings."""
    gap_hours = settings.REVIEW_GAP_HOURS if gap_hours is None else gap_hours
    limits = settings.REVIEW_SPEED_LIMITS_KMH if limits is None else limits
    min_km = settings.REVIEW_SPEED_MIN_DISTANCE_KM if min_km is None else min_km
    lookback_days = settings.REVIEW_POSITIVE_LOOKBACK_DAYS if lookback_days is None else lookback_days
    found = [
        *rule_overlap(facts),
        *rule_gaps(facts, gap_hours=gap_hours),
        *rule_impossible_travel(facts, limits=limits, min_km=min_km),
        *rule_outside_window(facts),
        *rule_contact_incomplete(facts),
        *rule_positive_without_trajectory(facts, lookback_days=lookback_days),
        *rule_contact_before_exposure(facts),
    ]
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


# ---- messages ---------------------------------------------------------------------------------------

MISSING_LABELS = {"time": gettext_lazy("time"), "place": gettext_lazy("place")}


def _format_param(key: str, value: Any) -> Any:
    if key.endswith("_at") and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return date_format(timezone.localtime(moment), "Y-m-d H:i")
    if key == "missing" and isinstance(value, list):
        return _(" and ").join(str(MISSING_LABELS.get(v, v)) for v in value)
    if key == "mode":
        return str(transport_label(value))
    return value


def transport_label(mode: str) -> str:
    from .fieldwork_adapter import transport_labels

    return transport_labels().get(mode) or (_("an unknown means of transport") if mode == "default" else mode)


def render_message(rule: str, params: dict[str, Any]) -> str:
    template = RULES.get(rule, (rule, rule))[1]
    try:
        return str(template) % {key: _format_param(key, value) for key, value in params.items()}
    except (KeyError, TypeError, ValueError):
        return str(template)


def rule_title(rule: str) -> str:
    return str(RULES.get(rule, (rule, rule))[0])


# ---- from the database ------------------------------------------------------------------------------


def investigated_window(task, *, until: datetime) -> tuple[datetime, datetime]:
    reported = task.leads.order_by("reported_at").values_list("reported_at", flat=True).first()
    reference = reported or task.created_at
    return reference - timedelta(days=settings.REVIEW_WINDOW_DAYS), until


def load_facts(task, *, submitted_at: datetime) -> Facts:
    from .fieldwork_adapter import contacts_of, entries_of, tests_of

    window_start, window_end = investigated_window(task, until=submitted_at)
    coverage_end = min(task.radius_limited_at or submitted_at, submitted_at)
    return Facts(
        window_start=window_start,
        window_end=window_end,
        coverage_end=coverage_end,
        entries=tuple(entries_of(task)),
        contacts=tuple(contacts_of(task)),
        tests=tuple(tests_of(task)),
    )


def compute_findings(review) -> list:
    """Compute and store the findings of `review` (its task as submitted). Replaces earlier findings of
    the same review (safe to run twice)."""
    from .fieldwork_adapter import content_type_for
    from .models import Finding

    task = review.task
    facts = load_facts(task, submitted_at=review.submitted_at)
    rows = []
    for item in evaluate(facts):
        target_type, target_id = (
            (content_type_for(item.target[0]), item.target[1]) if item.target else (None, None)
        )
        rows.append(
            Finding(
                task=task,
                review=review,
                rule=item.rule,
                severity=item.severity,
                params=item.params,
                target_type=target_type,
                target_id=target_id,
            )
        )
    Finding.objects.filter(review=review).delete()
    return Finding.objects.bulk_create(rows)
