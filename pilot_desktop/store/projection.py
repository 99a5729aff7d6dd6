"""Applies core/lifecycle.py to SQLite: the `messages` and `message_steps` tables.

`project_batch` runs inside the writer's transaction, once per committed batch, over the
batch's new events in arrival order (duplicates only bump the event's delivery counter).
It folds them exactly as one-by-one application would: the messages the batch touches
are read in one query and kept in memory, new ones are inserted when first seen (so ids
come out in the same order), and the changed rows and the steps are written with one
`executemany` each. `rebuild` deletes both tables and replays every stored event in
arrival order through the same function, so it reproduces the incremental result row
for row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import attrgetter

from pilot_desktop.core.lifecycle import MessageState, Observation, apply, observe

_STATE_COLS = tuple(f.name for f in fields(MessageState))
_SELECT = f"SELECT id, {', '.join(_STATE_COLS)} FROM messages"
_INSERT = (
    f"INSERT INTO messages ({', '.join(_STATE_COLS)}, first_received_at, reply_to) "
    f"VALUES ({', '.join('?' * (len(_STATE_COLS) + 2))})"
)
_UPDATE = f"UPDATE messages SET {', '.join(f'{c} = ?' for c in _STATE_COLS)} WHERE id = ?"
_STEP = "INSERT OR REPLACE INTO message_steps (event_id, message, status, at, late) VALUES (?, ?, ?, ?, ?)"
_values = attrgetter(*_STATE_COLS)  # a flat tuple; dataclasses.astuple deep-copies (10 us)

# How an event finds its message: by internal id first; the correlationId and then the
# provider id stand in when a drifted or early event lacks it. Inbound and outbound
# messages never merge.
_KEYS = ("msg_id", "correlation_id", "provider_id")

Pending = tuple[int, float, Observation]  # (event id, arrival, observation)


class _Batch:
    """The messages one batch touches, in memory until `flush`."""

    def __init__(self, conn: sqlite3.Connection, batch: Sequence[Pending]) -> None:
        self.conn = conn
        self.states: dict[int, MessageState] = {}
        self.keys: dict[tuple[str, bool, str], int] = {}
        self.dirty: set[int] = set()
        self.steps: list[tuple[int, int, str, float | None, bool]] = []
        self.touched: set[int] = set()  # messages whose reply links changed
        self._load(batch)

    def _load(self, batch: Sequence[Pending]) -> None:
        wanted: dict[str, set[str]] = {k: set() for k in _KEYS}
        for _, _, obs in batch:
            for key in _KEYS:
                if (value := getattr(obs, key)) is not None:
                    wanted[key].add(value)
        clauses: list[str] = []
        params: list[str] = []
        for key, values in wanted.items():
            if values:
                clauses.append(f"{key} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if not clauses:
            return
        for row in self.conn.execute(f"{_SELECT} WHERE {' OR '.join(clauses)} ORDER BY id", params):
            self._remember(row[0], MessageState(*row[1:]))

    def _remember(self, message: int, state: MessageState) -> None:
        self.states[message] = state
        for key in _KEYS:
            if (value := getattr(state, key)) is not None:
                self.keys.setdefault((key, state.outbound, value), message)  # lowest id wins

    def find(self, obs: Observation) -> int | None:
        for key in _KEYS:
            if (value := getattr(obs, key)) is not None:
                found = self.keys.get((key, obs.outbound, value))
                if found is not None:
                    return found
        return None

    def apply(self, event_id: int, received_at: float, obs: Observation) -> int:
        message = self.find(obs)
        before = None if message is None else self.states[message]
        after = apply(before, obs, received_at)
        late = after.late > (before.late if before else 0)  # apply counted it
        if message is None or before is None:
            reply_to = None if after.outbound else self._quoted(after)
            if reply_to is not None:
                self.touched.add(reply_to)  # its reply count moved
            inserted = self.conn.execute(_INSERT, (*_values(after), received_at, reply_to)).lastrowid
            assert inserted is not None
            message = inserted
        else:
            self.dirty.add(message)
            relinked = (before.quoted_id, before.correlation_id) != (after.quoted_id, after.correlation_id)
            if not after.outbound and relinked:
                target = self._quoted(after)
                self.conn.execute("UPDATE messages SET reply_to = ? WHERE id = ?", (target, message))
                self.touched.update([target] if target is not None else [])
        self._remember(message, after)
        self.steps.append((event_id, message, obs.status, obs.at, late))
        if after.outbound:
            self._claim_replies(message, before, after)
        return message

    def _quoted(self, inbound: MessageState) -> int | None:
        """The outbound message an inbound one answers: the one it quotes (provider id)
        or, without a quote, the send it is tied to (correlationId)."""
        key, value = (
            ("provider_id", inbound.quoted_id)
            if inbound.quoted_id
            else ("correlation_id", inbound.correlation_id)
        )
        if value is None:
            return None
        candidates = []
        if (known := self.keys.get((key, True, value))) is not None:
            candidates.append(known)  # it may have its id only in memory so far
        row = self.conn.execute(
            f"SELECT id FROM messages WHERE {key} = ? AND outbound = 1 ORDER BY id LIMIT 1", (value,)
        ).fetchone()
        if row is not None:
            candidates.append(int(row[0]))
        return min(candidates) if candidates else None

    def _claim_replies(self, message: int, before: MessageState | None, after: MessageState) -> None:
        """Replies that arrived before their original: linked once it shows its ids."""
        provider = after.provider_id if before is None or before.provider_id is None else None
        corr = after.correlation_id if before is None or before.correlation_id is None else None
        if provider is None and corr is None:
            return
        claimed = self.conn.execute(
            "UPDATE messages SET reply_to = ? WHERE outbound = 0 AND reply_to IS NULL "
            "AND (quoted_id = ? OR (correlation_id = ? AND quoted_id IS NULL)) RETURNING id",
            (message, provider, corr),
        ).fetchall()
        self.touched.update(r[0] for r in claimed)

    def flush(self) -> None:
        if self.dirty:
            self.conn.executemany(_UPDATE, [(*_values(self.states[m]), m) for m in sorted(self.dirty)])
        if self.steps:
            self.conn.executemany(_STEP, self.steps)


def project_batch(conn: sqlite3.Connection, batch: Sequence[Pending]) -> set[int]:
    """Fold a batch of new events, in arrival order, into their messages; returns the
    ids of the messages that changed, the ones whose replies were linked included."""
    if not batch:
        return set()
    work = _Batch(conn, batch)
    changed = {work.apply(event_id, received_at, obs) for event_id, received_at, obs in batch}
    work.flush()
    return changed | work.touched


def rebuild(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the projection from the raw events, in one transaction the caller owns.
    Returns the number of messages. `progress(done, total)` is called every 10,000 events."""
    conn.execute("DELETE FROM message_steps")
    conn.execute("DELETE FROM messages")
    groups = "event_group IN ('status', 'inbound')"
    total = conn.execute(f"SELECT count(*) FROM events WHERE {groups}").fetchone()[0]
    cur = conn.execute(f"SELECT id, received_at, body FROM events WHERE {groups} ORDER BY id")
    done = 0
    while rows := cur.fetchmany(2000):
        batch: list[Pending] = []
        for event_id, received_at, body in rows:
            try:
                obj = json.loads(body)
            except ValueError:
                continue  # stored bodies were JSON objects when accepted; be safe anyway
            obs = observe(obj) if isinstance(obj, dict) else None
            if obs is not None:
                batch.append((event_id, received_at, obs))
        project_batch(conn, batch)
        done += len(rows)
        if progress is not None and done % 10_000 < 2000:
            progress(done, total)
    return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
