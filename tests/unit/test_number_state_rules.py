"""A number's state, health, "for" and uptime never contradict one another, and the Numbers
pane and `pilot-desktop numbers` read them by the same rules (core/number_words.py,
core/numbers.uptime); a bare digit string is a phone only when some country assigns it."""

from __future__ import annotations

import pytest

from pilot_desktop.core.number_words import shows_health, since_known, state_text
from pilot_desktop.core.numbers import (
    CLOSED,
    CONNECTING,
    DEGRADED,
    HEALTHY,
    OPEN,
    POLL,
    UNKNOWN,
    WEBHOOK,
    NumberState,
    uptime,
)
from pilot_desktop.core.phones import valid


@pytest.mark.parametrize(
    ("connection", "health", "shown"),
    [
        (OPEN, HEALTHY, True),
        (CLOSED, HEALTHY, False),  # a disconnected number is never "healthy"
        (CONNECTING, HEALTHY, False),
        (UNKNOWN, HEALTHY, False),
        (CLOSED, DEGRADED, True),  # a warning always shows
    ],
)
def test_healthy_only_while_connected(connection: str, health: str, shown: bool) -> None:
    assert shows_health(NumberState("n", connection=connection, health=health)) is shown


def test_a_polls_first_reading_does_not_say_since_when() -> None:
    now = 10_000.0
    first_poll = NumberState("n", connection=OPEN, connection_at=now - 5, connection_source=POLL)
    assert not since_known(first_poll, UNKNOWN) and not since_known(first_poll, None)
    assert state_text(first_poll, now, UNKNOWN) == "Connected"  # not "Connected · 5 s"
    change_polled = since_known(first_poll, CLOSED)  # a poll saw it change from a known state
    told = NumberState("n", connection=OPEN, connection_at=now - 180, connection_source=WEBHOOK)
    assert change_polled and since_known(told, UNKNOWN)
    assert state_text(told, now, UNKNOWN) == "Connected · 3 min"


def test_uptime_is_over_the_time_the_state_was_known() -> None:
    created, now = 1000.0, 1030.0  # created 30 s ago, paired in 3 s, connected since
    history = [(created, CONNECTING), (created + 3, OPEN)]
    assert uptime(history, now - 86_400, now) == 1.0  # the pairing is not downtime
    assert uptime([(0.0, UNKNOWN), (100.0, OPEN)], 0, 200) == 1.0  # unknown is not down
    assert uptime([(0.0, CONNECTING), (120.0, OPEN)], 0, 240) == pytest.approx(0.5)  # a long wait is
    assert uptime([(0.0, CONNECTING)], 0, 30) == 0.0  # still connecting: not up
    assert uptime([(0.0, OPEN), (100.0, CLOSED), (120.0, OPEN)], 0, 200) == pytest.approx(180 / 200)


@pytest.mark.parametrize(
    ("text", "is_valid"),
    [
        ("12345678", False),  # possible in Brazil, assigned nowhere
        ("123456", False),
        ("(11) 98187-0697", True),
        ("+55 11 98187-0697", True),
        ("5511981870697", True),
    ],
)
def test_valid_phones_are_assigned_ones(text: str, is_valid: bool) -> None:
    assert valid(text, ["BR"]) is is_valid
