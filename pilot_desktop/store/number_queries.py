"""Read side of number state: one summary per number (state, since, uptime, flaps, strip)
and each number's history of transitions."""

from __future__ import annotations

import sqlite3
from typing import Any

from pilot_desktop.core.numbers import CLOSED, CONNECTION, NumberState, flaps, strip, uptime
from pilot_desktop.store.read_models import DAY, NumberNames, NumbersOverview, NumberSummary, TransitionRow

_STATE_COLS = (
    "s.number_id, connection, connection_at, connection_source, connection_seen, connection_rank, "
    "health, health_at, health_seen, health_rank, health_reason, last_error, last_error_code, phone, name"
)


def connection_history(conn: sqlite3.Connection, number_id: str, since: float) -> list[tuple[float, str]]:
    """(time, state) changes applied since `since`, led by the state in force at `since`."""
    before = conn.execute(
        "SELECT at, after FROM number_transitions WHERE number_id = ? AND kind = ? AND NOT late AND at < ? "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (number_id, CONNECTION, since),
    ).fetchone()
    rows = conn.execute(
        "SELECT at, after FROM number_transitions WHERE number_id = ? AND kind = ? AND NOT late AND at >= ? "
        "ORDER BY at, id",
        (number_id, CONNECTION, since),
    ).fetchall()
    history = [(float(a), str(s)) for a, s in rows]
    return ([(since, str(before[1]))] if before else []) + history


def entered_from(conn: sqlite3.Connection, number_id: str) -> str | None:
    """The connection state the current one followed (its applied transition's `before`)."""
    r = conn.execute(
        "SELECT before FROM number_transitions WHERE number_id = ? AND kind = ? AND NOT late "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (number_id, CONNECTION),
    ).fetchone()
    return None if r is None else str(r[0])


def summaries(conn: sqlite3.Connection, now: float) -> list[NumberSummary]:
    """Every number known from webhooks or polls, by name."""
    rows = conn.execute(
        f"SELECT {_STATE_COLS}, provider, billing_blocked_since, billing_disconnect_at, last_poll_at, "
        "n.last_event_at, coalesce(n.events, 0), quality_rating, messaging_tier, sendable, pii_mode, "
        "detail_at FROM number_state s "
        "LEFT JOIN numbers_seen n ON n.number_id = s.number_id"
    ).fetchall()
    out = []
    for r in rows:
        state = NumberState(*r[:15])
        week = connection_history(conn, state.number_id, now - 7 * DAY)
        day = [(t, s) for t, s in week if t >= now - DAY]
        lead = [(now - DAY, s) for t, s in week if t < now - DAY][-1:]
        day = lead + day
        out.append(
            NumberSummary(
                state=state,
                provider=r[15],
                billing_blocked_since=r[16],
                billing_disconnect_at=r[17],
                last_poll_at=r[18],
                last_event_at=r[19],
                events=int(r[20]),
                uptime_24h=uptime(day, now - DAY, now),
                uptime_7d=uptime(week, now - 7 * DAY, now),
                flaps_24h=flaps(day, now - DAY, now),
                strip_24h=strip(day, now - DAY, now),
                quality_rating=r[21],
                messaging_tier=r[22],
                sendable=None if r[23] is None else bool(r[23]),
                pii_mode=r[24],
                detail_at=r[25],
                history_24h=tuple(day),
                entered_from=entered_from(conn, state.number_id),
            )
        )
    out.sort(key=lambda s: ((s.state.name or "").lower(), s.number_id))
    return out


def transitions(conn: sqlite3.Connection, number_id: str, limit: int = 500) -> list[TransitionRow]:
    """Newest first, late ones included (flagged)."""
    q = (
        "SELECT id, number_id, kind, before, after, at, received_at, source, event, late, error, error_code "
        "FROM number_transitions WHERE number_id = ? ORDER BY at DESC, id DESC LIMIT ?"
    )
    return [_transition(r) for r in conn.execute(q, (number_id, limit))]


def _transition(r: tuple[Any, ...]) -> TransitionRow:
    make: Any = TransitionRow  # the columns above match the fields one to one
    return make(*r[:9], bool(r[9]), r[10], r[11])


def names(conn: sqlite3.Connection) -> NumberNames:
    """(display name, phone) of every number whose name or phone is known."""
    q = "SELECT number_id, name, phone FROM number_state WHERE name IS NOT NULL OR phone IS NOT NULL"
    return {str(n): (name, phone) for n, name, phone in conn.execute(q)}


def states(conn: sqlite3.Connection) -> list[NumberState]:
    """Only the current states (the tray's colour needs nothing more)."""
    q = f"SELECT {_STATE_COLS} FROM number_state s"
    return [NumberState(*r) for r in conn.execute(q)]


def overview(
    conn: sqlite3.Connection, prefer: list[str | None], now: float, history_rows: int
) -> NumbersOverview:
    """Every number, and the history of the one to select: the first of `prefer` that is
    listed, else the first disconnected one (the one needing attention), else the first."""
    found = summaries(conn, now)
    ids = [s.number_id for s in found]
    down = [s.number_id for s in found if s.state.connection == CLOSED]
    fallback = (down or ids)[0] if ids else None
    number_id = next((i for i in prefer if i in ids), fallback)
    known = {}
    for s in found:
        history = connection_history(conn, s.number_id, now - 7 * DAY)
        if history:
            known[s.number_id] = history[0][0]
    rows = transitions(conn, number_id, history_rows) if number_id else []
    return NumbersOverview(found, known, rows, number_id, now)
