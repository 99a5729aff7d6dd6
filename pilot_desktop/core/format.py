"""How times, durations, sizes, percentages, numbers and text read, in the window and the CLI.

One function per concept and one rule each (pure functions, no Qt):

- moments: `iso` (UTC, for files and JSON), `exact` (local, to the millisecond), `clock`
  (an arrival: milliseconds, the date only when not today), `when` (a table cell: as short
  as stays unambiguous);
- spans: `duration` (a measured interval: 850 ms, 3.2 s, 2 min 5 s, 1 h 30 min),
  `elapsed` and `age` (how long so far, for views re-read now and then: never finer than
  the minute past the first one), `minutes` (a setting in minutes, exactly);
- quantities: `size`, `percent`; text: `short`, `terminal_safe` (stored or remote text
  bound for a terminal); numbers: `number_label` and friends;
- the command line's fixed formats, which scripts parse: `cli_duration`, `cli_time`,
  `cli_percent`.

A missing value reads `MISSING` in the window; the CLI passes its ASCII "-".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import overload

# number id -> (display name, phone), as store/number_queries.names() gives them
Names = Mapping[str, tuple[str | None, str | None]]

MISSING = "–"
MINUTE, HOUR, DAY = 60, 3600, 86400
# Not strftime's %b: Qt sets the C locale from the system, and the window is in English.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- moments -----------------------------------------------------------------------------


def parse_time(text: str | None) -> float | None:
    """ISO 8601 (with Z or an offset) to unix seconds; None when absent or unreadable.
    A time without an offset is taken as UTC, which is what the platform means."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


@overload
def iso(ts: float) -> str: ...
@overload
def iso(ts: None) -> None: ...
def iso(ts: float | None) -> str | None:
    """UTC ISO 8601 with milliseconds and Z, as the platform writes times: 2026-03-01T12:00:00.000Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(dt: datetime) -> str:
    return f"{dt.microsecond // 1000:03d}"


def exact(ts: float | None, missing: str = MISSING) -> str:
    """Local date and time to the millisecond, for tooltips and details."""
    if ts is None:
        return missing
    dt = datetime.fromtimestamp(ts)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + _ms(dt)


def _today(now: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if now is None else now)


def clock(ts: float, now: float | None = None) -> str:
    """When a webhook arrived: '14:03:22.123' today, else the exact date and time."""
    dt = datetime.fromtimestamp(ts)
    if dt.date() == _today(now).date():
        return dt.strftime("%H:%M:%S.") + _ms(dt)
    return exact(ts)


def when(ts: float | None, now: float | None = None, missing: str = "") -> str:
    """A local time as short as stays unambiguous: today '14:03:22', this year
    '24 Nov 14:03', else '2025-11-24 14:03' (`exact` has the rest)."""
    if ts is None:
        return missing
    dt, today = datetime.fromtimestamp(ts), _today(now)
    if dt.date() == today.date():
        return dt.strftime("%H:%M:%S")
    if dt.year == today.year:
        return f"{dt.day} {_MONTHS[dt.month - 1]} {dt:%H:%M}"
    return dt.strftime("%Y-%m-%d %H:%M")


def when_iso(text: str | None, now: float | None = None) -> str:
    """A platform ISO time as `when` reads it; the text itself when it can't be read."""
    ts = parse_time(text)
    return when(ts, now) if ts is not None else (text or "")


# -- spans -------------------------------------------------------------------------------


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    # The second unit only when it says something: "2 h", not "2 h 0 min".
    return f"{big} {big_unit} {small} {small_unit}" if small else f"{big} {big_unit}"


def _hours_up(mins: int) -> str:
    """Whole minutes from an hour up, in two units: '1 h 30 min', '3 days 4 h'."""
    if mins < DAY // MINUTE:
        hours, rest = divmod(mins, 60)
        return _two(hours, "h", rest, "min")
    days, hours = divmod(mins // 60, 24)
    return f"{_plural(days, 'day')} {hours} h" if hours else _plural(days, "day")


def duration(seconds: float | None, missing: str = MISSING) -> str:
    """A measured interval, rounded to what it shows: 850 ms, 3.2 s, 45 s, 2 min 5 s
    (seconds below 10 min), 12 min, 1 h 30 min, 2 days 4 h. Negative: a leading '-'."""
    if seconds is None:
        return missing
    if seconds < 0:
        return f"-{duration(-seconds)}"
    if (ms := round(seconds * 1000)) < 1000:
        return f"{ms} ms"
    if (tenths := round(seconds * 10)) < 100:
        return f"{tenths / 10:.1f} s"
    if (whole := round(seconds)) < MINUTE:
        return f"{whole} s"
    if whole < 10 * MINUTE:
        return _two(whole // 60, "min", whole % 60, "s")
    if (mins := round(seconds / MINUTE)) < 60:
        return f"{mins} min"
    if mins < DAY // MINUTE:
        return _hours_up(mins)
    return _hours_up(round(seconds / HOUR) * 60)


def elapsed(seconds: float) -> str:
    """How long something has lasted so far, never more than it has: 45 s, 12 min,
    3 h 12 min, 2 days 4 h. Views re-read now and then, so no seconds past the first minute."""
    whole = max(0, int(seconds))
    if whole < MINUTE:
        return f"{whole} s"
    if whole < HOUR:
        return f"{whole // 60} min"
    return _hours_up(whole // 60 if whole < DAY else whole // HOUR * 60)


def age(ts: float | None, now: float | None = None) -> str:
    """'12 min ago' (see `elapsed`), or 'never'. A time in the future reads '0 s ago'."""
    if ts is None:
        return "never"
    return f"{elapsed((time.time() if now is None else now) - ts)} ago"


def age_iso(text: str | None, now: float | None = None) -> str:
    """`age` of a platform ISO time; 'never' without one, the text itself when unreadable."""
    if not text:
        return "never"
    ts = parse_time(text)
    return age(ts, now) if ts is not None else text


def minutes(n: int) -> str:
    """A setting in whole minutes, exactly: 10 min, 2 h, 1 h 30 min, 1 day 2 h 30 min."""
    if n < 60:
        return f"{n} min"
    days, rest = divmod(n, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [_plural(days, "day") if days else "", f"{hours} h" if hours else ""]
    parts.append(f"{mins} min" if mins else "")
    return " ".join(p for p in parts if p)


# -- the command line's fixed formats ---------------------------------------------------
# Scripts read what the CLI prints (timeline, messages, numbers, rebuild), so its tables keep
# the formats they were documented and tested with: to the tenth of a second below a minute,
# whole seconds in times.


def cli_duration(seconds: float | None) -> str:
    """850 ms, 1.5 s, 45.0 s, 3 min 20 s, 2 h 5 min, 3 d 4 h; '-' without one."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < MINUTE:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < HOUR:
        return f"{whole // 60} min {whole % 60} s"
    if whole < DAY:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def cli_time(ts: float, *, local: bool = False) -> str:
    """To the second: UTC (2026-11-24 14:03:22) unless `local`."""
    dt = datetime.fromtimestamp(ts) if local else datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def cli_percent(rate: float | None) -> str:
    """87.5 %; '-' without one."""
    return "-" if rate is None else f"{rate * 100:.1f} %"


# -- quantities --------------------------------------------------------------------------


def size(n: int) -> str:
    """Bytes in binary units: 512 B, 1.5 KB, 12.0 MB, 3.2 GB."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KB", "MB"):
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def percent(rate: float | None, missing: str = MISSING) -> str:
    """A share (0..1) to one decimal: 87.5%. Never '100.0%' short of all, nor '0.0%'
    above none: an operator reads those as 'all' and 'none'."""
    if rate is None:
        return missing
    shown = f"{rate * 100:.1f}"
    if shown == "100.0" and rate < 1:
        shown = "99.9"
    elif shown == "0.0" and rate > 0:
        shown = "0.1"
    return f"{shown}%"


# -- text and numbers --------------------------------------------------------------------


def short(text: str | None, width: int) -> str:
    """One line of at most `width` characters: whitespace runs become one space, and a
    clipped text ends with '…'."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def number_label(number_id: str, known: Names) -> str:
    """A number as people know it: its name and phone, else its id."""
    name, phone = known.get(number_id, (None, None))
    return " · ".join(x for x in (name, phone) if x) or number_id


def number_short(number_id: str, known: Names) -> str:
    """For a table cell: the name alone, else the phone, else the id."""
    name, phone = known.get(number_id, (None, None))
    return name or phone or number_id


def number_tip(number_id: str, known: Names) -> str:
    """For a tooltip: name and phone, then the id on its own line."""
    label = number_label(number_id, known)
    return label if label == number_id else f"{label}\n{number_id}"


def number_line(number_id: str, known: Names) -> str:
    """On one line with the id people type back (the CLI, the timeline): 'name · phone (id)'."""
    label = number_label(number_id, known)
    return label if label == number_id else f"{label} ({number_id})"


# -- text bound for a terminal -----------------------------------------------------------
# Stored and remote text (message content, names, error texts) is data: written raw, an
# ESC or C1 control (U+009B is a CSI on some terminals) would move the cursor, retitle the
# window or rewrite what was printed (\r, \b), a bidi override would reorder it, a lone
# surrogate would stop the output with an encoding error. Each becomes a visible escape.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
TERMINAL_UNSAFE = frozenset(
    (*range(0x20), *range(0x7F, 0xA0), *_BIDI, 0x2028, 0x2029, *range(0xD800, 0xE000))
)


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


_ESCAPED = {cp: _escape(cp) for cp in TERMINAL_UNSAFE}
_ESCAPED_KEEP_LINES = {cp: v for cp, v in _ESCAPED.items() if cp not in (0x09, 0x0A)}


def terminal_safe(text: str, *, lines: bool = False) -> str:
    """`text` with every control, bidi and lone-surrogate character as a visible escape
    (ESC reads `\\x1b`, U+202E `\\u202e`); with `lines`, newlines and tabs are kept (a
    whole report), else they are escaped too (one table cell)."""
    return text.translate(_ESCAPED_KEEP_LINES if lines else _ESCAPED)
