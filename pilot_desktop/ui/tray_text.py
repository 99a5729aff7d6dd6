"""The tray's words: the window title's few words and the icon's tooltip.

The tooltip names the numbers in each state (by name, as the Numbers tab shows them), the
conditions beyond numbers (ui/watch_alerts.py), who is muted or snoozed and until when, and
what was held back; in the demo its first line says DEMO, so a tray icon of the demo is
never taken for the real one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pilot_desktop.core.numbers import CLOSED, CONNECTING, HEALTHY, OPEN, REMOVED, UNKNOWN, NumberState

NAMED = 3  # names listed per line; "and N more" after


def title_status(states: list[NumberState]) -> str:
    """The worst state in a few words for the window title; "" when all is well."""
    live = [s for s in states if s.connection != REMOVED]
    down = sum(s.connection == CLOSED for s in live)
    if down:
        return f"{down} disconnected"
    parts = []
    if connecting := sum(s.connection in (CONNECTING, UNKNOWN) for s in live):
        parts.append(f"{connecting} connecting")
    if unhealthy := sum(s.health != HEALTHY for s in live):
        parts.append(f"{unhealthy} with a health warning")
    return ", ".join(parts)


def name_list(names: Sequence[str]) -> str:
    """'Loja Centro, Loja Norte, Loja Sul and 2 more'."""
    shown = ", ".join(names[:NAMED])
    return shown + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")


def until_words(until: float, now: float) -> str:
    """When a snooze ends: '14:30' today, 'tomorrow 08:00', else '24 Nov 08:00'."""
    end, today = datetime.fromtimestamp(until), datetime.fromtimestamp(now).date()
    days = (end.date() - today).days
    if days == 0:
        return f"{end:%H:%M}"
    if days == 1:
        return f"tomorrow {end:%H:%M}"
    return f"{end.day} {end:%b} {end:%H:%M}"


def state_lines(states: list[NumberState], names: Mapping[str, str]) -> list[str]:
    """How many numbers are connected, then who is not, by name."""
    live = [s for s in states if s.connection != REMOVED]
    if not live:
        return ["No numbers yet"]

    def named(rows: list[NumberState]) -> list[str]:
        return [names.get(s.number_id) or s.name or s.phone or s.number_id for s in rows]

    up = sum(s.connection == OPEN for s in live)
    lines = [f"{up} of {len(live)} numbers connected"]
    if down := named([s for s in live if s.connection == CLOSED]):
        lines.append(f"Disconnected: {name_list(down)}")
    if connecting := named([s for s in live if s.connection in (CONNECTING, UNKNOWN)]):
        lines.append(f"Connecting: {name_list(connecting)}")
    warned = [s for s in live if s.health != HEALTHY]
    if warned:
        words = [f"{n} ({s.health})" for n, s in zip(named(warned), warned, strict=True)]
        lines.append(f"Health warning: {name_list(words)}")
    return lines


def mute_line(
    muted: Sequence[str], snoozed: Mapping[str, float], names: Mapping[str, str], now: float
) -> str | None:
    """'Muted: Loja Sul; snoozed: Loja Norte until 14:30', or None when nobody is."""
    parts = []
    if muted:
        parts.append(f"Muted: {name_list([names.get(n, n) for n in muted])}")
    active = sorted((until, n) for n, until in snoozed.items() if until > now)
    if active:
        words = [f"{names.get(n, n)} until {until_words(until, now)}" for until, n in active]
        parts.append(f"snoozed: {name_list(words)}")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def tooltip(
    lines: Sequence[str], *, demo: bool, conditions: Sequence[str], mute: str | None, held: int
) -> str:
    """The whole tooltip; what was held back last (it changes most)."""
    out = ["Pilot Desktop — DEMO (sandbox data)" if demo else "Pilot Desktop", *lines, *conditions]
    if mute:
        out.append(mute)
    if held:
        out.append(f"{held} notification{'s' if held != 1 else ''} held back (quiet hours/muted)")
    return "\n".join(out)
