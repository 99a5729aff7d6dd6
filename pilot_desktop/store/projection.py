"""Applies core/lifecycle.py to SQLite: the `messages` and `message_steps` tables.

`project` runs inside the writer's transaction, once per new event (duplicates only bump
the event's delivery counter). `rebuild` deletes both tables and replays every stored
event in arrival order through the same function, so it reproduces the incremental
result row for row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import astuple, fields

from pilot_desktop.core.lifecycle import MessageState, Observation, apply, is_late, observe

_STATE_COLS = tuple(f.name for f in fields(MessageState))
_SELECT = f"SELECT id, {', '.join(_STATE_COLS)} FROM messages"
_INSERT = (
    f"INSERT INTO messages ({', '.join(_STATE_COLS)}, first_received_at) "
    f"VALUES ({', '.join('?' * (len(_STATE_COLS) + 1))})"
)
_UPDATE = f"UPDATE messages SET {', '.join(f'{c} = ?' for c in _STATE_COLS)} WHERE id = ?"
_STEP = "INSERT OR REPLACE INTO message_steps (event_id, message, status, at, late) VALUES (?, ?, ?, ?, ?)"


def _find(conn: sqlite3.Connection, obs: Observation) -> tuple[int, MessageState] | None:
    # By internal id first; the correlationId and provider id stand in when a drifted
    # or early event lacks it. Inbound and outbound messages never merge.
    for column, value in (
        ("msg_id", obs.msg_id),
        ("correlation_id", obs.correlation_id),
        ("provider_id", obs.provider_id),
    ):
        if value is None:
            continue
        row = conn.execute(
            f"{_SELECT} WHERE {column} = ? AND outbound = ? LIMIT 1", (value, obs.outbound)
        ).fetchone()
        if row is not None:
            return row[0], MessageState(*row[1:])
    return None


def project(conn: sqlite3.Connection, event_id: int, received_at: float, obs: Observation) -> int:
    """Fold one new event into its message; returns the message's row id."""
    found = _find(conn, obs)
    before = found[1] if found else None
    late = is_late(before, obs)
    after = apply(before, obs, received_at)
    if found is None:
        message = conn.execute(_INSERT, (*astuple(after), received_at)).lastrowid
        assert message is not None
    else:
        message = found[0]
        conn.execute(_UPDATE, (*astuple(after), message))
    conn.execute(_STEP, (event_id, message, obs.status, obs.at, late))
    _link_replies(conn, message, before, after)
    return message


def _link_replies(
    conn: sqlite3.Connection, message: int, before: MessageState | None, after: MessageState
) -> None:
    """A reply points at the outbound message it quotes (by provider id) or, without a
    quote, at the send it is tied to (correlationId). Whichever arrives first."""
    if not after.outbound:
        if before is not None and (before.quoted_id, before.correlation_id) == (
            after.quoted_id,
            after.correlation_id,
        ):
            return
        column, value = (
            ("provider_id", after.quoted_id) if after.quoted_id else ("correlation_id", after.correlation_id)
        )
        if value is None:
            return
        row = conn.execute(
            f"SELECT id FROM messages WHERE {column} = ? AND outbound = 1 ORDER BY id LIMIT 1", (value,)
        ).fetchone()
        if row is not None:
            conn.execute("UPDATE messages SET reply_to = ? WHERE id = ?", (row[0], message))
        return
    if after.provider_id and (before is None or before.provider_id is None):
        conn.execute(
            "UPDATE messages SET reply_to = ? WHERE quoted_id = ? AND outbound = 0 AND reply_to IS NULL",
            (message, after.provider_id),
        )
    if after.correlation_id and (before is None or before.correlation_id is None):
        conn.execute(
            "UPDATE messages SET reply_to = ? WHERE correlation_id = ? AND outbound = 0 "
            "AND quoted_id IS NULL AND reply_to IS NULL",
            (message, after.correlation_id),
        )


def rebuild(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the projection from the raw events, in one transaction the caller owns.
    Returns the number of messages. `progress(done, total)` is called every 10,000 events."""
    conn.execute("DELETE FROM message_steps")
    conn.execute("DELETE FROM messages")
    total = conn.execute("SELECT count(*) FROM events WHERE event_group IN ('status', 'inbound')").fetchone()[
        0
    ]
    cur = conn.execute(
        "SELECT id, received_at, body FROM events WHERE event_group IN ('status', 'inbound') ORDER BY id"
    )
    done = 0
    while rows := cur.fetchmany(2000):
        for event_id, received_at, body in rows:
            done += 1
            try:
                obj = json.loads(body)
            except ValueError:
                continue  # stored bodies were JSON objects when accepted; be safe anyway
            obs = observe(obj) if isinstance(obj, dict) else None
            if obs is not None:
                project(conn, event_id, received_at, obs)
        if progress is not None and done % 10_000 < 2000:
            progress(done, total)
    return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
