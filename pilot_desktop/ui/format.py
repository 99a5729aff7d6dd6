"""Small text formatters shared by the panes (pure functions, no widgets)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

# number id -> (display name, phone), as store/number_queries.names() gives them
Names = Mapping[str, tuple[str | None, str | None]]


def clock(ts: float) -> str:
    """Local wall time with milliseconds; the date only when not today."""
    dt = datetime.fromtimestamp(ts)
    if dt.date() == datetime.now().date():
        return dt.strftime("%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def age(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, (now or time.time()) - ts)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def duration(seconds: float | None, missing: str = "–") -> str:
    """A latency for people: 850 ms, 3.2 s, 45 s, 2 min 5 s, 12 min, 1.5 h, 2.0 days."""
    if seconds is None:
        return missing
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def number_short(number_id: str, known: Names) -> str:
    """For a table cell: the name alone, else the phone, else the id."""
    name, phone = known.get(number_id, (None, None))
    return name or phone or number_id


def number_tip(number_id: str, known: Names) -> str:
    """For a tooltip: name and phone, then the id."""
    label = number_label(number_id, known)
    return label if label == number_id else f"{label}\n{number_id}"


def number_label(number_id: str, known: Names) -> str:
    """A number as people know it: its name and phone (as in the Webhooks pane), else its id."""
    name, phone = known.get(number_id, (None, None))
    return " · ".join(x for x in (name, phone) if x) or number_id
