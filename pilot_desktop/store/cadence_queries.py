"""How each number usually receives webhooks: the input of the silence alerts (core/alerts.py).

Cheap on a big store: only numbers with an event within the alert window (numbers_seen, one
row per number), and for each, its newest events through the `events_number (number_id, id)`
index, newest first, bounded: at most SCAN_ROWS index entries, of which the first
SAMPLE_GAPS + 1 webhooks are kept (steps read back from the API after a gap, signature
'reconstructed', are not deliveries: they are skipped).
"""

from __future__ import annotations

import sqlite3

from pilot_desktop.core.alerts import SAMPLE_GAPS, WINDOW_S, Cadence, cadence_of

SCAN_ROWS = 1000  # a catch-up may have stored many reconstructed steps in a row
MAX_NUMBERS = 5000

_NUMBERS = """
SELECT n.number_id, s.name, s.connection FROM numbers_seen n
LEFT JOIN number_state s ON s.number_id = n.number_id
WHERE n.last_event_at >= ? ORDER BY n.last_event_at DESC LIMIT ?
"""
_ARRIVALS = """
SELECT received_at FROM (
    SELECT received_at, signature FROM events INDEXED BY events_number
    WHERE number_id = ? ORDER BY id DESC LIMIT ?
) WHERE signature != 'reconstructed' LIMIT ?
"""


def cadences(conn: sqlite3.Connection, now: float) -> list[Cadence]:
    """Every number with an event in the last WINDOW_S: its newest webhook time, usual gap,
    recent count and connection state (None when never told)."""
    out = []
    numbers = conn.execute(_NUMBERS, (now - WINDOW_S, MAX_NUMBERS)).fetchall()
    for number_id, name, connection in numbers:
        times = [float(r[0]) for r in conn.execute(_ARRIVALS, (number_id, SCAN_ROWS, SAMPLE_GAPS + 1))]
        out.append(cadence_of(number_id, times, now, name=name, connection=connection))
    return out


def gap_bounds(conn: sqlite3.Connection) -> tuple[float | None, bool]:
    """The end of the latest ended gap (None: none), and whether a gap is open now (a start
    ends what a crashed run left open, services/gaps.py). Gaps are few: one row per outage."""
    end, still = conn.execute("SELECT MAX(ended_at), COUNT(*) - COUNT(ended_at) FROM gaps").fetchone()
    return (None if end is None else float(end)), bool(still)
