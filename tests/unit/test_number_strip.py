"""The 24 h strip never contradicts the number's state (issue 17, point 3): a slot shows what
was known in it, a number connected three minutes ago is connected in the current slot, and
amber means connecting for a minute or more (the legend says so), not the seconds a pairing
or reconnection takes."""

from __future__ import annotations

from pilot_desktop.core.numbers import (
    CLOSED,
    CONNECTING,
    CONNECTING_SHOWN_S,
    OPEN,
    REMOVED,
    UNKNOWN,
    strip,
    strip_spans,
)

HALF_HOUR = 1800.0
DAY = 48 * HALF_HOUR


def test_first_seen_minutes_ago_and_connected_is_connected_now() -> None:
    now = DAY
    history = [(now - 200, CONNECTING), (now - 180, OPEN)]  # created, paired 20 s later
    slots = strip(history, 0, now)
    assert slots[-1] == OPEN
    assert set(slots[:-1]) == {UNKNOWN}  # before it was first seen: not known, not a state
    assert strip_spans(history, 0, now)[-1] == [(now - 200, now - 180, CONNECTING), (now - 180, now, OPEN)]


def test_a_brief_connecting_is_not_amber_a_long_one_is() -> None:
    brief = [(0.0, OPEN), (100.0, CONNECTING), (100.0 + CONNECTING_SHOWN_S - 1, OPEN)]
    assert strip(brief, 0, DAY)[0] == OPEN
    long = [(0.0, OPEN), (100.0, CONNECTING), (100.0 + CONNECTING_SHOWN_S, OPEN)]
    assert strip(long, 0, DAY)[0] == CONNECTING
    # connecting across a slot boundary counts per slot
    across = [(0.0, OPEN), (HALF_HOUR - 40, CONNECTING), (HALF_HOUR + 40, OPEN)]
    assert strip(across, 0, DAY)[:2] == [OPEN, OPEN]


def test_any_drop_shows_and_states_hold_across_slots() -> None:
    history = [
        (0.0, OPEN),
        (HALF_HOUR * 3 + 5, CLOSED),
        (HALF_HOUR * 3 + 10, OPEN),
        (HALF_HOUR * 10, REMOVED),
    ]
    slots = strip(history, 0, DAY)
    assert slots[:3] == [OPEN] * 3 and slots[3] == CLOSED and slots[4:10] == [OPEN] * 6
    assert set(slots[10:]) == {REMOVED}
    # a state from before the window holds from its start
    assert strip([(-5.0, CLOSED)], 0, DAY) == [CLOSED] * 48
