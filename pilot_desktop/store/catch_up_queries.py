"""What catch-up after a gap reads (services/catch_up.py): outbound messages by their
internal id with the steps already stored, and those left in a non-final state."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from pilot_desktop.core.lifecycle import RANK
from pilot_desktop.store.message_queries import first_id_since

_CHUNK = 500  # ids per IN (...): well under SQLite's variable limit
OPEN_STATUSES = ("QUEUED", "SENT", "DELIVERED")  # not final: more steps may come


class StoredOutbound(NamedTuple):
    """An outbound message as the store knows it: its status and every step stored."""

    msg_id: str
    number_id: str | None
    status: str
    steps: frozenset[str]
    first_at: float


def outbound_by_ids(conn: sqlite3.Connection, msg_ids: Iterable[str]) -> dict[str, StoredOutbound]:
    """The stored outbound messages with these internal ids (data.id), with their steps."""
    wanted = sorted(set(msg_ids))
    found: dict[str, StoredOutbound] = {}
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i : i + _CHUNK]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            "SELECT m.msg_id, m.number_id, m.status, m.first_at, group_concat(s.status) "
            "FROM messages m LEFT JOIN message_steps s ON s.message = m.id "
            f"WHERE m.msg_id IN ({marks}) AND m.outbound = 1 GROUP BY m.id ORDER BY m.id",
            part,
        ).fetchall()
        for msg_id, number_id, status, first_at, steps in rows:
            row = StoredOutbound(
                msg_id, number_id, status, frozenset((steps or "").split(",")) - {""}, first_at
            )
            if (prev := found.get(msg_id)) is not None:  # two rows of one id (numbers kept apart)
                ahead = row if RANK.get(row.status, 0) > RANK.get(prev.status, 0) else prev
                row = ahead._replace(steps=row.steps | prev.steps, first_at=min(row.first_at, prev.first_at))
            found[msg_id] = row
    return found


def open_outbound(
    conn: sqlite3.Connection, since: float, until: float, limit: int = 500
) -> list[StoredOutbound]:
    """The newest `limit` outbound messages still QUEUED, SENT or DELIVERED whose first step
    happened in [since, until], newest first. One index range per status."""
    first = first_id_since(conn, since)
    rows: list[tuple[int, str, str | None, str, float]] = []
    for status in OPEN_STATUSES:
        rows += conn.execute(
            "SELECT id, msg_id, number_id, status, first_at FROM messages "
            "WHERE status = ? AND id >= ? AND outbound = 1 AND msg_id IS NOT NULL "
            "AND first_at BETWEEN ? AND ? ORDER BY id DESC LIMIT ?",
            (status, first, since, until, limit),
        ).fetchall()
    rows.sort(key=lambda r: -r[0])
    chosen = rows[:limit]
    steps = outbound_by_ids(conn, (r[1] for r in chosen))
    return [steps[r[1]] for r in chosen if r[1] in steps]
