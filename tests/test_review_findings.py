"""The automatic consistency findings (reviews/findings.py): each rule with cases that must and must not
produce a finding. Pure functions over plain records: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from django.utils import translation

from reviews.findings import (
    Contact,
    Entry,
    Facts,
    Test,
    evaluate,
    haversine_km,
    render_message,
    rule_contact_before_exposure,
    rule_contact_incomplete,
    rule_gaps,
    rule_impossible_travel,
    rule_outside_window,
    rule_overlap,
    rule_positive_without_trajectory,
)

UTC = UTC
CST = timezone(timedelta(hours=8), "CST")  # Beijing time, as aware datetimes
H = timedelta(hours=1)
M = timedelta(minutes=1)

# 2024-05-10 00:00 Beijing time; the window is the 14 days before.
END = datetime(2024, 5, 10, 0, 0, tzinfo=CST)
START = END - timedelta(days=14)

# Real places: Haikou railway station area, Haikou Meilan airport, Sanya railway station (~ 230 km).
HAIKOU = (20.0290, 110.1660)
HAIKOU_AIRPORT = (19.9349, 110.4590)
SANYA = (18.3020, 109.4990)
LIMITS = {"walk": 8, "private_car": 150, "train": 380, "flight": 1000, "default": 150}


def facts(entries=(), contacts=(), tests=(), *, start=START, end=END, coverage_end=None) -> Facts:
    return Facts(
        window_start=start,
        window_end=end,
        coverage_end=coverage_end or end,
        entries=tuple(entries),
        contacts=tuple(contacts),
        tests=tuple(tests),
    )


def entry(id, start, hours=1.0, *, at=None, mode="", place=None) -> Entry:
    lat, lon = at if at else (None, None)
    return Entry(
        id=id,
        start=start,
        end=start + timedelta(hours=hours),
        place=place or f"place {id}",
        lat=lat,
        lon=lon,
        mode=mode,
    )


def covering(start=START, end=END, first_id=100):
    """Entries of 10 hours back to back from `start` to `end`, so that no gap rule fires."""
    out, at, i = [], start, first_id
    while at < end:
        out.append(Entry(id=i, start=at, end=min(end, at + 10 * H), place=f"home {i}"))
        at += 10 * H
        i += 1
    return out


def rules(found):
    return sorted(f.rule for f in found)


# ---- overlapping entries ---------------------------------------------------------------------------


def test_overlapping_entries_are_an_error_on_the_later_entry():
    a = entry(1, END - 10 * H, 3)
    b = entry(2, END - 8 * H, 2)  # starts one hour before a ends
    found = rule_overlap(facts([a, b]))
    assert len(found) == 1
    assert found[0].severity == "error" and found[0].target == ("trajectory", 2)
    assert found[0].params["other_id"] == 1 and found[0].params["minutes"] == 60


def test_entries_that_touch_do_not_overlap():
    a = entry(1, END - 10 * H, 2)
    b = entry(2, END - 8 * H, 2)  # starts exactly when a ends
    assert rule_overlap(facts([a, b])) == []


def test_an_entry_inside_a_long_one_overlaps_it_even_after_a_short_one():
    long = entry(1, END - 10 * H, 8)
    short = entry(2, END - 9 * H, 0.5)
    later = entry(3, END - 5 * H, 1)  # still inside `long`, not inside `short`
    found = rule_overlap(facts([long, short, later]))
    assert [(f.target, f.params["other_id"]) for f in found] == [
        (("trajectory", 2), 1),
        (("trajectory", 3), 1),
    ]


def test_overlap_is_found_across_time_zones():
    a = Entry(1, datetime(2024, 5, 9, 10, 0, tzinfo=CST), datetime(2024, 5, 9, 12, 0, tzinfo=CST))
    b = Entry(2, datetime(2024, 5, 9, 3, 30, tzinfo=UTC), datetime(2024, 5, 9, 5, 0, tzinfo=UTC))  # 11:30 CST
    assert rules(rule_overlap(facts([a, b]))) == ["trajectory_overlap"]
    c = Entry(
        3, datetime(2024, 5, 9, 4, 0, tzinfo=UTC), datetime(2024, 5, 9, 5, 0, tzinfo=UTC)
    )  # 12:00 CST: touches
    assert rule_overlap(facts([a, c])) == []


# ---- gaps ------------------------------------------------------------------------------------------


def test_a_gap_longer_than_the_limit_inside_the_window_is_a_warning():
    entries = covering(START, END - 40 * H) + covering(END - 20 * H, END, first_id=200)
    found = rule_gaps(facts(entries), gap_hours=12)
    assert len(found) == 1
    gap = found[0]
    assert gap.rule == "trajectory_gap" and gap.severity == "warning"
    assert gap.params["hours"] == 20.0 and gap.target == ("trajectory", 200)


def test_a_gap_of_exactly_the_limit_is_not_reported():
    entries = covering(START, END - 24 * H) + covering(END - 12 * H, END, first_id=200)
    assert rule_gaps(facts(entries), gap_hours=12) == []


def test_a_gap_one_second_over_the_limit_is_reported():
    entries = covering(START, END - 24 * H) + covering(END - 12 * H + timedelta(seconds=1), END, first_id=200)
    assert rules(rule_gaps(facts(entries), gap_hours=12)) == ["trajectory_gap"]


def test_a_missing_start_and_end_of_the_window_are_gaps():
    entries = covering(START + 2 * 24 * H, END - 2 * 24 * H)
    found = rule_gaps(facts(entries), gap_hours=12)
    assert [f.params["hours"] for f in found] == [48.0, 48.0]
    assert found[0].params["from_at"] == START.isoformat()


def test_the_trajectory_need_not_go_on_after_the_radius_was_limited():
    controlled = END - 3 * 24 * H
    entries = covering(START, controlled)
    assert rule_gaps(facts(entries, coverage_end=controlled), gap_hours=12) == []
    assert rules(rule_gaps(facts(entries), gap_hours=12)) == ["trajectory_gap"]


def test_no_trajectory_at_all_is_one_error_not_a_gap():
    found = rule_gaps(facts([]), gap_hours=12)
    assert [(f.rule, f.severity, f.target) for f in found] == [("no_trajectory", "error", None)]


# ---- impossible travel -----------------------------------------------------------------------------


def test_haversine_haikou_to_sanya_is_about_200_km():
    assert 195 < haversine_km(*HAIKOU, *SANYA) < 215


def test_a_car_from_haikou_to_sanya_in_half_an_hour_is_impossible():
    a = entry(1, END - 10 * H, 1, at=HAIKOU)
    b = entry(2, a.end + 30 * M, 1, at=SANYA, mode="private_car")
    found = rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "error" and f.target == ("trajectory", 2)
    assert f.params["limit"] == 150 and f.params["mode"] == "private_car" and int(f.params["kmh"]) > 300


def test_a_car_from_haikou_to_sanya_in_two_hours_is_fine():
    a = entry(1, END - 10 * H, 1, at=HAIKOU)
    b = entry(2, a.end + 2 * H, 1, at=SANYA, mode="private_car")
    assert rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2) == []


def test_the_limit_is_the_one_of_the_declared_transport():
    a = entry(1, END - 10 * H, 1, at=HAIKOU)
    by_train = entry(2, a.end + 45 * M, 1, at=SANYA, mode="train")  # ~ 270 km/h: fine by high-speed rail
    assert rule_impossible_travel(facts([a, by_train]), limits=LIMITS, min_km=2) == []
    on_foot = entry(2, a.end + 45 * M, 1, at=SANYA, mode="walk")
    assert rules(rule_impossible_travel(facts([a, on_foot]), limits=LIMITS, min_km=2)) == [
        "impossible_travel"
    ]


def test_an_undeclared_transport_uses_the_default_limit():
    a = entry(1, END - 10 * H, 1, at=HAIKOU)
    b = entry(2, a.end + 60 * M, 1, at=SANYA)
    found = rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2)
    assert found[0].params["mode"] == "default" and found[0].params["limit"] == 150


def test_travel_across_midnight_is_measured_from_the_end_to_the_start():
    # Leaves Haikou 23:30, arrives Sanya 00:10 the next day (40 minutes): impossible by car.
    a = Entry(
        1,
        datetime(2024, 5, 8, 22, 0, tzinfo=CST),
        datetime(2024, 5, 8, 23, 30, tzinfo=CST),
        "海口站",
        *HAIKOU,
    )
    b = Entry(
        2,
        datetime(2024, 5, 9, 0, 10, tzinfo=CST),
        datetime(2024, 5, 9, 8, 0, tzinfo=CST),
        "三亚站",
        *SANYA,
        mode="private_car",
    )
    found = rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2)
    assert len(found) == 1 and found[0].params["minutes"] == 40
    # Arrives 02:30 the next day (3 hours): possible, though the date changed.
    c = Entry(
        3,
        datetime(2024, 5, 9, 2, 30, tzinfo=CST),
        datetime(2024, 5, 9, 8, 0, tzinfo=CST),
        "三亚站",
        *SANYA,
        mode="private_car",
    )
    assert rule_impossible_travel(facts([a, c]), limits=LIMITS, min_km=2) == []


def test_travel_across_time_zones_uses_the_real_elapsed_time():
    # Left Haikou 10:00 Beijing time (02:00 UTC); arrived Sanya 04:30 UTC = 12:30 Beijing: 2.5 hours, fine.
    a = Entry(
        1, datetime(2024, 5, 9, 8, 0, tzinfo=CST), datetime(2024, 5, 9, 10, 0, tzinfo=CST), "海口", *HAIKOU
    )
    b = Entry(
        2,
        datetime(2024, 5, 9, 4, 30, tzinfo=UTC),
        datetime(2024, 5, 9, 6, 0, tzinfo=UTC),
        "三亚",
        *SANYA,
        mode="private_car",
    )
    assert rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2) == []
    # Read naively (wall clock 04:30 < 10:00) it would look like arriving before leaving; it is not.
    # Arrived 02:20 UTC = 10:20 Beijing: 20 minutes for ~200 km, impossible even though the wall-clock
    # digits (02:20 vs 10:00) look like a long time apart.
    c = Entry(
        3,
        datetime(2024, 5, 9, 2, 20, tzinfo=UTC),
        datetime(2024, 5, 9, 6, 0, tzinfo=UTC),
        "三亚",
        *SANYA,
        mode="private_car",
    )
    found = rule_impossible_travel(facts([a, c]), limits=LIMITS, min_km=2)
    assert len(found) == 1 and found[0].params["minutes"] == 20


def test_arriving_before_leaving_somewhere_far_is_impossible():
    a = entry(1, END - 10 * H, 3, at=HAIKOU)
    b = entry(2, END - 9 * H, 1, at=SANYA, mode="flight")
    found = rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2)
    assert found[0].params["kmh"] == "∞"


def test_short_hops_are_geocoding_noise_not_travel():
    a = entry(1, END - 10 * H, 1, at=(20.0290, 110.1660))
    b = entry(2, a.end, 1, at=(20.0370, 110.1660), mode="walk")  # ~ 0.9 km, no time at all
    assert rule_impossible_travel(facts([a, b]), limits=LIMITS, min_km=2) == []


def test_entries_without_coordinates_are_skipped_between_located_ones():
    a = entry(1, END - 10 * H, 1, at=HAIKOU)
    nowhere = entry(2, END - 8 * H, 1)
    b = entry(3, END - 6 * H, 1, at=HAIKOU_AIRPORT, mode="taxi")
    assert rule_impossible_travel(facts([a, nowhere, b]), limits=LIMITS, min_km=2) == []
    c = entry(3, a.end + 5 * M, 1, at=SANYA, mode="taxi")
    found = rule_impossible_travel(facts([a, nowhere, c]), limits=LIMITS, min_km=2)
    assert found[0].params["from_id"] == 1 and found[0].target == ("trajectory", 3)


# ---- outside the window ----------------------------------------------------------------------------


def test_entries_before_or_after_the_window_are_reported():
    before = entry(1, START - 30 * H, 2)
    after = entry(2, END + 2 * H, 1)
    inside = entry(3, START + H, 2)
    found = rule_outside_window(facts([before, after, inside]))
    assert [(f.target, f.params["side"]) for f in found] == [
        (("trajectory", 1), "before"),
        (("trajectory", 2), "after"),
    ]


def test_an_entry_that_reaches_into_the_window_is_inside():
    straddling = Entry(1, START - 2 * H, START + H)
    ending_at_start = Entry(2, START - 2 * H, START)
    assert rule_outside_window(facts([straddling, ending_at_start])) == []


# ---- close contacts --------------------------------------------------------------------------------


def test_a_contact_without_place_or_time_is_a_warning_naming_what_is_missing():
    found = rule_contact_incomplete(
        facts(
            contacts=[
                Contact(1, "李四", END - H, ""),
                Contact(2, "王五", None, "  "),
                Contact(3, "赵六", END - H, "超市"),
            ]
        )
    )
    assert [(f.target, f.params["missing"], f.severity) for f in found] == [
        (("contact", 1), ["place"], "warning"),
        (("contact", 2), ["time", "place"], "warning"),
    ]


def test_a_contact_before_the_exposure_start_is_reported():
    entries = [entry(1, START + 3 * 24 * H, 5)]  # the trajectory starts 3 days into the window
    early = Contact(1, "李四", START + 24 * H, "家")
    later = Contact(2, "王五", START + 4 * 24 * H, "单位")
    found = rule_contact_before_exposure(facts(entries, contacts=[early, later]))
    assert [f.target for f in found] == [("contact", 1)]
    assert found[0].params["exposure_at"] == (START + 3 * 24 * H).isoformat()


def test_without_a_trajectory_the_exposure_starts_with_the_window():
    assert rule_contact_before_exposure(facts(contacts=[Contact(1, "李四", START + H, "家")])) == []
    assert len(rule_contact_before_exposure(facts(contacts=[Contact(1, "李四", START - H, "家")]))) == 1


def test_an_entry_before_the_window_does_not_move_the_exposure_start_before_it():
    entries = [entry(1, START - 5 * 24 * H, 1)]
    found = rule_contact_before_exposure(facts(entries, contacts=[Contact(1, "李四", START - 24 * H, "家")]))
    assert len(found) == 1


# ---- positive tests --------------------------------------------------------------------------------


def test_a_positive_test_without_any_trajectory_in_the_days_before_is_an_error():
    sampled = END - 2 * H
    found = rule_positive_without_trajectory(
        facts([entry(1, START, 5)], tests=[Test(1, sampled, "positive")]), lookback_days=3
    )
    assert [(f.target, f.severity, f.params["uncovered"]) for f in found] == [(("test", 1), "error", 3)]


def test_a_positive_test_with_some_days_uncovered_is_a_warning():
    sampled = END - 2 * H
    entries = [entry(1, sampled - 10 * H, 2)]  # covers only the last day
    found = rule_positive_without_trajectory(
        facts(entries, tests=[Test(1, sampled, "positive")]), lookback_days=3
    )
    assert [(f.severity, f.params["uncovered"]) for f in found] == [("warning", 2)]


def test_a_positive_test_with_every_day_covered_is_fine_and_negatives_are_ignored():
    sampled = END - 2 * H
    entries = [entry(i, sampled - (24 * i - 5) * H, 2) for i in (1, 2, 3)]
    assert (
        rule_positive_without_trajectory(
            facts(entries, tests=[Test(1, sampled, "positive")]), lookback_days=3
        )
        == []
    )
    assert (
        rule_positive_without_trajectory(facts([], tests=[Test(2, sampled, "negative")]), lookback_days=3)
        == []
    )


# ---- together and in words -------------------------------------------------------------------------


def test_a_consistent_investigation_has_no_findings():
    entries = covering()
    contacts = [Contact(1, "李四", END - 5 * H, "家")]
    tests = [Test(1, END - H, "positive")]
    assert (
        evaluate(facts(entries, contacts, tests), gap_hours=12, limits=LIMITS, min_km=2, lookback_days=3)
        == []
    )


def test_findings_come_errors_first():
    entries = [entry(1, START + H, 3, at=HAIKOU), entry(2, START + 2 * H, 1, at=SANYA, mode="private_car")]
    found = evaluate(facts(entries), gap_hours=12, limits=LIMITS, min_km=2, lookback_days=3)
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key={"error": 0, "warning": 1, "info": 2}.get)
    assert {"trajectory_overlap", "impossible_travel", "trajectory_gap"} <= set(rules(found))


def test_messages_are_plain_language_in_english_and_chinese():
    params = {"from_at": START.isoformat(), "to_at": END.isoformat(), "hours": 20.0, "limit": 12}
    with translation.override("en"):
        english = render_message("trajectory_gap", params)
    assert "20.0 hours" in english and "2024-04-26" in english
    with translation.override("zh-hans"):
        chinese = render_message("contact_incomplete", {"name": "李四", "missing": ["time", "place"]})
    assert "李四" in chinese
