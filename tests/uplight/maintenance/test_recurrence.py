"""Weekly and cron schedules: parsing, next occurrence, time zones and DST."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from uplight.maintenance.recurrence import (
    next_occurrence,
    occurrences,
    parse_cron,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
    weekly_spec,
)

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_cron_fields() -> None:
    spec = parse_cron("*/15 3,4 1-5 jan-mar,dec sun,6")
    assert spec.minutes == {0, 15, 30, 45}
    assert spec.hours == {3, 4}
    assert spec.days == {1, 2, 3, 4, 5}
    assert spec.months == {1, 2, 3, 12}
    assert spec.weekdays == {0, 6}
    assert spec.dom_restricted and spec.dow_restricted


@pytest.mark.parametrize(
    ("expression", "field", "expected"),
    [
        ("* * * * *", "minutes", set(range(60))),
        ("5/20 * * * *", "minutes", {5, 25, 45}),  # "a/n" runs to the end of the range
        ("0 8-18/5 * * *", "hours", {8, 13, 18}),
        ("0 0 * * 7", "weekdays", {0}),  # 7 is Sunday too
        ("0 0 * * 5-7", "weekdays", {5, 6, 0}),
        ("0 0 * * MON-FRI", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 31 * *", "days", {31}),
        ("@daily", "hours", {0}),
        ("@weekly", "weekdays", {0}),
        ("@hourly", "minutes", {0}),
    ],
)
def test_cron_forms(expression: str, field: str, expected: set[int]) -> None:
    assert getattr(parse_cron(expression), field) == expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 3 * *", "5 fields"),
        ("0 3 * * * *", "5 fields"),
        ("60 3 * * *", "outside 0-59"),
        ("0 24 * * *", "outside 0-23"),
        ("0 3 0 * *", "outside 1-31"),
        ("0 3 * 13 *", "outside 1-12"),
        ("0 3 * * 8", "outside 0-7"),
        ("0 3 * * funday", "not a number"),
        ("0 5-3 * * *", "backwards"),
        ("*/0 * * * *", "at least 1"),
        ("0 3 ? * *", "cannot read"),
        ("0 3 30 feb *", "never matches"),
        ("", "5 fields"),
    ],
)
def test_invalid_cron(expression: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_cron(expression)


def test_day_fields_combine_like_cron() -> None:
    # Both restricted: either matches (the 13th, or any Friday).
    both = parse_cron("0 0 13 * fri")
    assert both.matches_day(dt.date(2024, 9, 13))  # a Friday the 13th
    assert both.matches_day(dt.date(2024, 9, 6))  # a Friday
    assert both.matches_day(dt.date(2024, 8, 13))  # a Tuesday the 13th
    assert not both.matches_day(dt.date(2024, 9, 7))
    # One is "*": only the other decides.
    only_dow = parse_cron("0 0 * * fri")
    assert only_dow.matches_day(dt.date(2024, 9, 6))
    assert not only_dow.matches_day(dt.date(2024, 8, 13))
    stepped = parse_cron("0 0 */2 * fri")  # "*/2" starts with "*": both must hold
    assert stepped.matches_day(dt.date(2024, 9, 13))
    assert not stepped.matches_day(dt.date(2024, 9, 6))


def test_weekly_parts() -> None:
    assert parse_time_of_day("03:00") == (3, 0)
    assert parse_time_of_day("7:05") == (7, 5)
    for bad in ("24:00", "3", "03:60", "3pm"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_time_of_day(bad)
    assert parse_weekday("Sun") == 0 and parse_weekday("saturday") == 6
    assert parse_weekday("monday") == 1
    with pytest.raises(ValueError, match="day of the week"):
        parse_weekday("someday")
    with pytest.raises(ValueError, match="at least one day"):
        weekly_spec([], "03:00")
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_timezone("Mars/Olympus")


def test_weekly_next_occurrence_in_utc() -> None:
    spec = weekly_spec(["sun"], "03:00")
    # 2024-06-05 is a Wednesday; the next Sunday is the 9th.
    assert next_occurrence(spec, UTC, utc(2024, 6, 5, 12)) == utc(2024, 6, 9, 3)
    # Strictly after: at the occurrence itself, the next one is a week later.
    assert next_occurrence(spec, UTC, utc(2024, 6, 9, 3)) == utc(2024, 6, 16, 3)
    assert next_occurrence(spec, UTC, utc(2024, 6, 9, 2, 59)) == utc(2024, 6, 9, 3)


def test_weekly_keeps_local_time_across_dst() -> None:
    spec = weekly_spec(["sun"], "03:00")
    tz = parse_timezone("Europe/Berlin")
    # Winter: 03:00 CET is 02:00 UTC; summer: 03:00 CEST is 01:00 UTC.
    assert next_occurrence(spec, tz, utc(2024, 3, 20)) == utc(2024, 3, 24, 2)
    # 2024-03-31 is the spring-forward Sunday: 03:00 local exists (02:00-03:00 does not).
    assert next_occurrence(spec, tz, utc(2024, 3, 25)) == utc(2024, 3, 31, 1)
    assert next_occurrence(spec, tz, utc(2024, 10, 21)) == utc(2024, 10, 27, 2)
    starts = occurrences(spec, tz, utc(2024, 3, 20), utc(2024, 4, 10))
    assert [s.astimezone(tz).hour for s in starts] == [3, 3, 3]
    assert starts == [utc(2024, 3, 24, 2), utc(2024, 3, 31, 1), utc(2024, 4, 7, 1)]


def test_times_in_dst_gaps_and_folds() -> None:
    tz = BERLIN
    gap = weekly_spec(["sun"], "02:30")  # does not exist on 2024-03-31 in Berlin
    moved = next_occurrence(gap, tz, utc(2024, 3, 30))
    assert moved == utc(2024, 3, 31, 1, 30)  # read with the winter offset: 03:30 CEST
    assert moved.astimezone(tz).strftime("%H:%M %Z") == "03:30 CEST"
    fold = weekly_spec(["sun"], "02:30")  # happens twice on 2024-10-27: the first counts
    assert next_occurrence(fold, tz, utc(2024, 10, 26)) == utc(2024, 10, 27, 0, 30)
    every_half_hour = parse_cron("0,30 * * * *")
    night = occurrences(every_half_hour, tz, utc(2024, 10, 26, 23), utc(2024, 10, 27, 3))
    assert len(night) == len(set(night)) == 6  # the repeated hour is not run twice


def test_cron_next_occurrence_forms() -> None:
    assert next_occurrence(parse_cron("0 3 * * 0"), UTC, utc(2024, 6, 5)) == utc(2024, 6, 9, 3)
    assert next_occurrence(parse_cron("*/10 * * * *"), UTC, utc(2024, 6, 5, 12, 1)) == utc(
        2024, 6, 5, 12, 10
    )
    assert next_occurrence(parse_cron("0 0 1 * *"), UTC, utc(2024, 1, 31)) == utc(2024, 2, 1)
    leap = parse_cron("0 12 29 2 *")
    assert next_occurrence(leap, UTC, utc(2024, 3, 1)) == utc(2028, 2, 29, 12)
    assert next_occurrence(parse_cron("0 22 * * *"), BERLIN, utc(2024, 7, 1)) == utc(2024, 7, 1, 20)
    assert next_occurrence(parse_cron("0 0 31 * *"), UTC, utc(2024, 4, 1)) == utc(2024, 5, 31)


def test_occurrences_window_and_limit() -> None:
    spec = parse_cron("0 * * * *")
    found = occurrences(spec, UTC, utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 4))
    assert found == [utc(2024, 1, 1, h) for h in (1, 2, 3)]  # start inclusive, end exclusive
    assert occurrences(spec, UTC, utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)) == [utc(2024, 1, 1, 1)]
    assert (
        len(occurrences(parse_cron("* * * * *"), UTC, utc(2024, 1, 1), utc(2024, 2, 1), limit=7))
        == 7
    )
