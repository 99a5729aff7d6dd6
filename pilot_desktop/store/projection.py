"""Applies core/lifecycle.py to SQLite: the `messages` and `message_steps` tables.

`project_batch` runs inside the writer's transaction, once per committed batch, over the
batch's new events in arrival order (duplicates only bump the event's delivery counter).
It folds them exactly as one-by-one application would, but in memory: one query loads
every message the batch can touch (by its ids, and the replies and originals it can link
to), new messages get the ids SQLite would have given them, and `flush` writes each row
once: new messages with their final state, old ones with only the columns that changed.
So a batch costs a handful of statements, not several per event (bench/ingest.py), and
an unchanged indexed column is never rewritten (SQLite updates every index whose column
is in the SET list, equal or not).

`rebuild` deletes both tables and replays every stored event in arrival order through
the same function, so it reproduces the incremental result row for row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence

from pilot_desktop.core.lifecycle import MessageState, Observation, apply, observe
from pilot_desktop.store.bulk import insert_rows, next_id

_STATE_COLS = MessageState._fields
_COLS = (*_STATE_COLS, "reply_to")  # what `flush` compares, in row order
_SELECT = f"SELECT id, {', '.join(_COLS)} FROM messages"
_INSERT = f"INSERT INTO messages (id, {', '.join(_COLS)}, first_received_at)"
_STEP = "INSERT INTO message_steps (event_id, message, status, at, late)"

# How an event finds its message: by internal id first; the correlationId and then the
# provider id stand in when a drifted or early event lacks it. Inbound and outbound
# messages never merge.
_KEYS = ("msg_id", "correlation_id", "provider_id")

Pending = tuple[int, float, Observation]  # (event id, arrival, observation)
Row = tuple[object, ...]  # a state and its reply_to, in _COLS order


def _update_sql(changed: tuple[int, ...]) -> str:
    return f"UPDATE messages SET {', '.join(f'{_COLS[i]} = ?' for i in changed)} WHERE id = ?"


def _links(state: MessageState) -> tuple[str | None, str | None, str | None]:
    """What an inbound message's link depends on: its quote, its send, its number."""
    return state.quoted_id, state.correlation_id, state.number_id


class _Batch:
    """The messages one batch touches, in memory until `flush`."""

    def __init__(self, conn: sqlite3.Connection, batch: Sequence[Pending]) -> None:
        self.conn = conn
        self.states: dict[int, MessageState] = {}
        self.reply_to: dict[int, int | None] = {}
        self.stored: dict[int, Row] = {}  # rows as loaded, to write only what changed
        self.created: dict[int, float] = {}  # new messages -> first arrival, in id order
        self.keys: dict[tuple[str, bool, str], list[int]] = {}  # every message with that id
        self.by_quote: dict[str, set[int]] = {}  # inbound messages by the id they quote
        self.by_corr: dict[str, set[int]] = {}  # inbound messages by correlationId
        self.steps: list[tuple[int, int, str, float | None, bool]] = []
        self.touched: set[int] = set()  # messages whose reply links changed
        self._load(batch)
        self.next_id = next_id(conn, "messages")

    def _load(self, batch: Sequence[Pending]) -> None:
        """Everything `apply` may look at: the messages with the batch's ids, the
        originals its replies quote, and the replies its sends may claim."""
        wanted: dict[str, set[str]] = {k: set() for k in (*_KEYS, "quoted_id")}
        for _, _, obs in batch:
            for key in _KEYS:
                if (value := getattr(obs, key)) is not None:
                    wanted[key].add(value)
            if obs.quoted_id is not None:
                wanted["provider_id"].add(obs.quoted_id)
            if obs.outbound and obs.provider_id is not None:
                wanted["quoted_id"].add(obs.provider_id)
        clauses: list[str] = []
        params: list[str] = []
        for key, values in wanted.items():
            if values:
                clauses.append(f"{key} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if not clauses:
            return
        for row in self.conn.execute(f"{_SELECT} WHERE {' OR '.join(clauses)} ORDER BY id", params):
            message, values = row[0], row[1:]
            self.stored[message] = values
            self.reply_to[message] = values[-1]
            self._remember(message, MessageState(*values[:-1]))

    def _remember(self, message: int, state: MessageState) -> None:
        self.states[message] = state
        outbound = state.outbound
        for key in _KEYS:
            if (value := getattr(state, key)) is not None:
                ids = self.keys.setdefault((key, outbound, value), [])
                if message not in ids:
                    ids.append(message)
        if not outbound:
            if state.quoted_id is not None:
                self.by_quote.setdefault(state.quoted_id, set()).add(message)
            if state.correlation_id is not None:
                self.by_corr.setdefault(state.correlation_id, set()).add(message)

    def _lowest(self, key: tuple[str, bool, str], number_id: str | None) -> int | None:
        """The first message with that id that an event naming `number_id` may join: a
        message's events name its number, so one naming another number (a forgery stored
        first) is not this message's, and neither is a message made by events naming none."""
        ids = self.keys.get(key)
        if ids is None:
            return None
        if len(ids) == 1:  # the usual case
            return ids[0] if number_id is None or self.states[ids[0]].number_id == number_id else None
        return min((m for m in ids if number_id in (None, self.states[m].number_id)), default=None)

    def _answered(self, key: tuple[str, bool, str], number_id: str | None) -> int | None:
        """The first outbound message with that id that a reply naming `number_id` answers:
        only one of the same number. A reply naming no number never links to a message that
        has one (it would be a forgery an unsigned delivery could attach to a protected
        number's message, before or after that message is stored)."""
        return min((m for m in self.keys.get(key, ()) if self.states[m].number_id == number_id), default=None)

    def find(self, obs: Observation) -> int | None:
        for key in _KEYS:
            if (value := getattr(obs, key)) is not None:
                found = self._lowest((key, obs.outbound, value), obs.number_id)
                if found is not None:
                    return found
        return None

    def apply(self, event_id: int, received_at: float, obs: Observation) -> int:
        message = self.find(obs)
        before = None if message is None else self.states[message]
        after = apply(before, obs, received_at)
        if message is None:
            message = self.next_id  # what INTEGER PRIMARY KEY would give: max(id) + 1
            self.next_id += 1
            self.created[message] = received_at
            self.reply_to[message] = None
        if not after.outbound and (before is None or _links(before) != _links(after)):
            self._link(message, after)  # first seen, or its quote or correlation came in
        self._remember(message, after)
        late = after.late > (before.late if before else 0)  # apply counted it
        self.steps.append((event_id, message, obs.status, obs.at, late))
        if after.outbound:
            self._claim_replies(message, before, after)
        return message

    def _link(self, message: int, inbound: MessageState) -> None:
        """Point an inbound message at the outbound one it answers: the one it quotes
        (provider id) or, without a quote, the send it is tied to (correlationId)."""
        key, value = (
            ("provider_id", inbound.quoted_id)
            if inbound.quoted_id
            else ("correlation_id", inbound.correlation_id)
        )
        target = None if value is None else self._answered((key, True, value), inbound.number_id)
        old = self.reply_to[message]
        self.reply_to[message] = target
        self.touched.update(t for t in (old, target) if t is not None)  # their reply counts

    def _claim_replies(self, message: int, before: MessageState | None, after: MessageState) -> None:
        """Replies that arrived before their original: linked once it shows its ids."""
        provider = after.provider_id if before is None or before.provider_id is None else None
        corr = after.correlation_id if before is None or before.correlation_id is None else None
        candidates = set(self.by_quote.get(provider, ())) if provider is not None else set()
        if corr is not None:
            candidates.update(m for m in self.by_corr.get(corr, ()) if self.states[m].quoted_id is None)
        for reply in candidates:
            number = self.states[reply].number_id
            if self.reply_to[reply] is None and number == after.number_id:  # as _answered
                self.reply_to[reply] = message
                self.touched.add(reply)

    def flush(self) -> None:
        if self.created:
            insert_rows(
                self.conn,
                _INSERT,
                [(m, *self.states[m], self.reply_to[m], first) for m, first in self.created.items()],
            )
        updates: dict[tuple[int, ...], list[Row]] = {}
        for message in sorted(self.stored):
            row = (*self.states[message], self.reply_to[message])
            old = self.stored[message]
            changed = tuple(i for i, (a, b) in enumerate(zip(row, old, strict=True)) if a != b)
            if changed:
                updates.setdefault(changed, []).append((*(row[i] for i in changed), message))
        for changed, rows in updates.items():
            self.conn.executemany(_update_sql(changed), rows)
        if self.steps:
            insert_rows(self.conn, _STEP, self.steps)


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
