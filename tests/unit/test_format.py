"""The one set of formatting rules the window and the CLI share (core/format.py).

Local times are built from local wall-clock datetimes, so the tests hold in any zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pilot_desktop.core.format import (
    MISSING,
    age,
    age_iso,
    cli_duration,
    cli_percent,
    cli_time,
    clock,
    duration,
    elapsed,
    exact,
    iso,
    minutes,
    number_label,
    number_line,
    number_short,
    number_tip,
    parse_time,
    percent,
    short,
    size,
    when,
    when_iso,
)

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0


def local(*args: int) -> float:
    return datetime(*args).timestamp()


NOW = local(2026, 3, 10, 18, 0, 0)

# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, MISSING),
        (0, "0 ms"),
        (0.25, "250 ms"),
        (0.9994, "999 ms"),
        (0.9996, "1.0 s"),  # rounds into the next unit, never "1000 ms"
        (3.04, "3.0 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),
        (45.2, "45 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (61, "1 min 1 s"),
        (90, "1 min 30 s"),
        (120, "2 min"),  # no "0 s"
        (599.4, "9 min 59 s"),
        (599.6, "10 min"),
        (10 * MIN + 29, "10 min"),  # from 10 min, whole minutes
        (10 * MIN + 31, "11 min"),
        (15 * MIN, "15 min"),
        (HOUR - 31, "59 min"),
        (HOUR - 29, "1 h"),
        (HOUR + 60, "1 h 1 min"),
        (1.5 * HOUR, "1 h 30 min"),
        (DAY - 31, "23 h 59 min"),
        (DAY - 29, "1 day"),
        (DAY + HOUR, "1 day 1 h"),
        (2 * DAY, "2 days"),
        (2 * DAY + 7 * HOUR + 20 * MIN, "2 days 7 h"),
        (-2.5, "-2.5 s"),
        (-90, "-1 min 30 s"),
    ],
)
def test_durations_read_naturally(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_a_missing_duration_reads_as_asked() -> None:
    assert duration(None, "") == "" and duration(None, "-") == "-"
    assert duration(2.5, "-") == "2.5 s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "0 s"),  # clocks differ: never a negative age
        (0, "0 s"),
        (59.9, "59 s"),  # never more than it has lasted
        (60, "1 min"),
        (12 * MIN + 59, "12 min"),  # no seconds past the first minute: views re-read now and then
        (HOUR - 1, "59 min"),
        (HOUR, "1 h"),
        (2.5 * HOUR + 59, "2 h 30 min"),
        (DAY - 1, "23 h 59 min"),
        (DAY, "1 day"),
        (DAY + HOUR + 59 * MIN, "1 day 1 h"),
        (3 * DAY + 4 * HOUR, "3 days 4 h"),
    ],
)
def test_elapsed_is_floored_to_what_it_shows(seconds: float, text: str) -> None:
    assert elapsed(seconds) == text


def test_age() -> None:
    assert age(None, NOW) == "never"
    assert age(NOW - 45.7, NOW) == "45 s ago"
    assert age(NOW - 90, NOW) == "1 min ago"
    assert age(NOW - 1.5 * HOUR, NOW) == "1 h 30 min ago"
    assert age(NOW - 2 * DAY - 7 * HOUR, NOW) == "2 days 7 h ago"
    assert age(NOW + 30, NOW) == "0 s ago"


def test_age_of_a_platform_time() -> None:
    assert age_iso(None, NOW) == age_iso("", NOW) == "never"
    assert age_iso(iso(NOW - 3 * MIN), NOW) == "3 min ago"
    assert age_iso("last Tuesday", NOW) == "last Tuesday"  # shown as it came


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 min"),
        (1, "1 min"),
        (59, "59 min"),
        (60, "1 h"),
        (90, "1 h 30 min"),
        (1440, "1 day"),
        (1441, "1 day 1 min"),  # a setting reads exactly: all its parts
        (1590, "1 day 2 h 30 min"),
        (10080, "7 days"),
    ],
)
def test_deadlines_read_exactly(n: int, text: str) -> None:
    assert minutes(n) == text


# -- moments -------------------------------------------------------------------------------


def test_iso_is_utc_with_milliseconds_and_z() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_772_366_400.25) == "2026-03-01T12:00:00.250Z"
    assert iso(None) is None


def test_parse_time_reads_what_iso_writes_and_takes_no_offset_as_utc() -> None:
    assert parse_time(iso(1_772_366_400.25)) == 1_772_366_400.25
    assert parse_time("2026-03-01T12:00:00") == parse_time("2026-03-01T12:00:00Z") == 1_772_366_400.0
    assert parse_time("2026-03-01T09:00:00-03:00") == 1_772_366_400.0
    assert parse_time(None) is None and parse_time("") is None and parse_time("soon") is None


def test_exact_is_local_to_the_millisecond() -> None:
    assert exact(local(2026, 3, 1, 14, 3, 22, 123000)) == "2026-03-01 14:03:22.123"
    assert exact(None) == MISSING and exact(None, "(none)") == "(none)"


def test_clock_keeps_milliseconds_and_adds_the_date_when_not_today() -> None:
    assert clock(local(2026, 3, 10, 9, 5, 1, 7000), NOW) == "09:05:01.007"
    assert clock(local(2026, 3, 9, 23, 59, 59, 999000), NOW) == "2026-03-09 23:59:59.999"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        ((2026, 3, 10, 0, 0, 1), "00:00:01"),  # today: the time alone
        ((2026, 3, 10, 23, 59, 59), "23:59:59"),  # later today (a clock ahead) too
        ((2026, 3, 9, 23, 59, 59), "9 Mar 23:59"),  # yesterday: the date, in English
        ((2026, 1, 1, 0, 0, 0), "1 Jan 00:00"),
        ((2025, 12, 31, 23, 59, 0), "2025-12-31 23:59"),  # another year: all of it
        ((2027, 1, 2, 8, 0, 0), "2027-01-02 08:00"),
    ],
)
def test_when_is_as_short_as_stays_unambiguous(moment: tuple[int, ...], text: str) -> None:
    assert when(local(*moment), NOW) == text


def test_when_of_nothing_and_of_a_platform_time() -> None:
    assert when(None, NOW) == "" and when(None, NOW, MISSING) == MISSING
    assert when_iso(iso(local(2026, 3, 10, 7, 30, 0)), NOW) == "07:30:00"
    assert when_iso("not a time", NOW) == "not a time" and when_iso(None, NOW) == ""


# -- quantities ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (1024 * 1024 - 1, "1.0 MB"),  # never "1024.0 KB"
        (1024 * 1024, "1.0 MB"),
        (5 * 1024**3, "5.0 GB"),
        (3 * 1024**4, "3072.0 GB"),
    ],
)
def test_sizes(n: int, text: str) -> None:
    assert size(n) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (None, MISSING),
        (0, "0.0%"),
        (0.0004, "0.1%"),  # some, however few, never reads as none
        (0.125, "12.5%"),
        (0.9994, "99.9%"),
        (0.9996, "99.9%"),  # not all never reads as all
        (1, "100.0%"),
    ],
)
def test_percentages(rate: float | None, text: str) -> None:
    assert percent(rate) == text


def test_a_missing_percentage_reads_as_asked() -> None:
    assert percent(None, "-") == "-"


# -- text and numbers ----------------------------------------------------------------------


def test_short_flattens_and_clips() -> None:
    assert short(None, 10) == "" and short("", 10) == ""
    assert short("  two\n lines \t", 10) == "two lines"
    assert short("0123456789", 10) == "0123456789"
    assert short("0123456789A", 10) == "012345678…"
    assert len(short("x" * 500, 40)) == 40


KNOWN = {"num_A": ("Loja Centro", "+5511999990001"), "num_B": (None, "+5511999990002"), "num_C": (None, None)}


@pytest.mark.parametrize(
    ("number_id", "label", "cell", "tip", "line"),
    [
        (
            "num_A",
            "Loja Centro · +5511999990001",
            "Loja Centro",
            "Loja Centro · +5511999990001\nnum_A",
            "Loja Centro · +5511999990001 (num_A)",
        ),
        ("num_B", "+5511999990002", "+5511999990002", "+5511999990002\nnum_B", "+5511999990002 (num_B)"),
        ("num_C", "num_C", "num_C", "num_C", "num_C"),
        ("num_Z", "num_Z", "num_Z", "num_Z", "num_Z"),  # not known at all
    ],
)
def test_numbers_as_people_know_them(number_id: str, label: str, cell: str, tip: str, line: str) -> None:
    assert number_label(number_id, KNOWN) == label
    assert number_short(number_id, KNOWN) == cell
    assert number_tip(number_id, KNOWN) == tip
    assert number_line(number_id, KNOWN) == line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.85, "850 ms"),
        (2.5, "2.5 s"),
        (30, "30.0 s"),
        (59.94, "59.9 s"),
        (200, "3 min 20 s"),
        (3600, "1 h 0 min"),
        (7500, "2 h 5 min"),
        (4 * 86400 + 3 * 3600, "4 d 3 h"),
    ],
)
def test_the_command_line_keeps_its_precise_durations(seconds: float | None, text: str) -> None:
    """Scripts compare what `timeline` and `numbers` print: tenths of seconds below a minute."""
    assert cli_duration(seconds) == text


def test_the_command_line_keeps_its_times_and_percentages() -> None:
    at = datetime(2026, 11, 24, 14, 3, 22, 999_000, tzinfo=UTC).timestamp()
    assert cli_time(at) == "2026-11-24 14:03:22"  # UTC, to the second (`messages`)
    assert cli_time(at, local=True) == datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
    assert cli_percent(0.875) == "87.5 %" and cli_percent(None) == "-"
