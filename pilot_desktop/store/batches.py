"""One batch of webhooks, polls and rejections in one transaction: the writer's work.

`BatchWriter` owns the write connection. It runs in the writer process
(writer_process.py), or on a thread of the app's process (`Writer(process=False)`).

A batch is written in a few statements, not one per event (bulk.py): one query finds the
redeliveries among the batch's dedupe keys, the new events get the ids SQLite would give
them and go in with one multi-row INSERT, and the projections do the same. Every
statement step releases the GIL and takes it back; one `execute` per event made the
writer thread's wall time 2.7x its CPU time on a busy receiver.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from pilot_desktop.store import guard, number_projection
from pilot_desktop.store.bulk import chunks, insert_rows, next_id
from pilot_desktop.store.db import StoreError, classify_error
from pilot_desktop.store.errors import DatabaseCorrupt
from pilot_desktop.store.projection import Pending, project_batch
from pilot_desktop.store.records import (
    Changes,
    EventRow,
    GapMark,
    Heartbeat,
    IncomingEvent,
    NumberPoll,
    Rejection,
    Stored,
    clean_text,
    headers_json,
)
from pilot_desktop.store.schema import REJECTIONS_KEPT
from pilot_desktop.store.watch_records import WATCH_ITEMS, WatchItem
from pilot_desktop.store.watch_store import write_watch

log = logging.getLogger(__name__)

Item = IncomingEvent | Rejection | NumberPoll | Heartbeat | GapMark | WatchItem

_INSERT_EVENTS = """
INSERT INTO events (id, dedupe_key, received_at, last_received_at, event, event_group, number_id,
    from_addr, to_addr, summary, event_time, classification, schema_issues, signature,
    signature_secret, route, headers, body)"""
_REDELIVERED = "UPDATE events SET deliveries = deliveries + ?, last_received_at = ? WHERE id = ?"
_UPSERT_NUMBER = """
INSERT INTO numbers_seen (number_id, first_seen_at, last_event_at, events) VALUES (?, ?, ?, ?)
ON CONFLICT (number_id) DO UPDATE SET
    last_event_at = excluded.last_event_at, events = events + excluded.events
"""
_INSERT_REJECTION = """
INSERT INTO rejections (received_at, status, reason, method, path, remote, headers, body, body_size,
    route, number_id, delivery, diagnosis)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_BEAT = """
INSERT INTO heartbeat (id, run_started_at, alive_at, stopped_at, pid) VALUES (1, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET run_started_at = excluded.run_started_at,
    alive_at = excluded.alive_at, stopped_at = excluded.stopped_at, pid = excluded.pid
"""


def _damage(path: Path, exc: Exception) -> DatabaseCorrupt | None:
    """The store's damage, when that is what `exc` says."""
    if not isinstance(exc, sqlite3.Error):
        return None
    err = classify_error(path, exc)
    return err if isinstance(err, DatabaseCorrupt) else None


class BatchWriter:
    def __init__(self, path: Path, conn: sqlite3.Connection, *, projections: bool = True) -> None:
        self.path = path
        self.conn = conn
        # Off only in bench/ingest.py, to measure what the projections cost; a store written
        # without them needs `pilot-desktop rebuild`.
        self._projections = projections
        self._rejections_since_trim = 0
        self._polls_since_trim = 0
        # Wall seconds in each part of the transactions, for bench/ingest.py.
        self.seconds = {"store": 0.0, "project": 0.0, "commit": 0.0}
        self.last_error: str | None = None

    def write(self, items: list[Item]) -> tuple[list[Any], Changes]:
        """Store `items` in one transaction; one result per item (Stored, None, or the
        StoreError its sender gets) and what changed."""
        try:
            results, changes = self.transaction(items)
            self.last_error = None
        except sqlite3.OperationalError as exc:
            # Environmental (locked, disk full, I/O): every item would fail the same way,
            # each after busy_timeout. Fail the batch once; the senders get 503 and retry.
            err = classify_error(self.path, exc)
            self.last_error = str(err)
            log.error("could not store a batch of %d: %s", len(items), err)
            results, changes = [err] * len(items), Changes()
        except Exception as exc:  # isolate the item that broke the batch; never die
            damage = _damage(self.path, exc)
            if damage is not None:
                # Corruption (sqlite3.DatabaseError, not OperationalError): retrying item by
                # item would commit, and checkpoint, into the damaged file before the guard
                # (integrity.py) sees the answer. Fail the whole batch, write nothing more.
                self.last_error = str(damage)
                log.error("could not store a batch of %d: %s", len(items), damage)
                return [damage] * len(items), Changes()
            log.warning("batch of %d failed (%s); retrying one by one", len(items), exc)
            results, changes = [], Changes()
            for item in items:
                if damage is not None:  # an earlier item met corruption: stop writing
                    results.append(damage)
                    continue
                try:
                    res, ch = self.transaction([item])
                    results.append(res[0])
                    changes.new_events += ch.new_events
                    changes.redelivered.update(ch.redelivered)
                    changes.rejections += ch.rejections
                    changes.gaps |= ch.gaps
                    changes.messages |= ch.messages
                    changes.numbers |= ch.numbers
                    changes.transitions += ch.transitions
                except Exception as one_exc:
                    if isinstance(one_exc, sqlite3.Error):
                        err = classify_error(self.path, one_exc)
                        damage = err if isinstance(err, DatabaseCorrupt) else None
                    else:
                        log.exception("bug while storing an item")
                        err = StoreError(f"internal error while storing: {one_exc!r}")
                    self.last_error = str(err)
                    log.error("could not store an item: %s", err)
                    results.append(err)
        return results, changes

    def transaction(self, items: list[Item]) -> tuple[list[Any], Changes]:
        conn = self.conn
        changes = Changes()
        results: list[Any] = []
        pending: list[Pending] = []  # new message events, projected together below
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            events = [i for i in items if isinstance(i, IncomingEvent)]
            refused = guard.refusals(conn, events)  # before dedupe: a refused event takes no key
            inserted = iter(self._insert_events(conn, [e for n, e in enumerate(events) if n not in refused]))
            seen = 0
            for item in items:
                if isinstance(item, IncomingEvent):
                    seen += 1
                    if seen - 1 in refused:
                        results.append(refused[seen - 1])
                        continue
                    stored, row = next(inserted)
                    if row is not None:
                        changes.new_events.append(row)
                        if item.observation is not None and self._projections:
                            pending.append((row.id, row.received_at, item.observation))
                        elif row.group == "number" and row.number_id and self._projections:
                            t = number_projection.project_event(conn, row.id, row.received_at, item.body)
                            changes.numbers.add(row.number_id)
                            changes.transitions.extend([t] if t else [])
                    else:
                        changes.redelivered[stored.id] = stored.deliveries
                    results.append(stored)
                elif isinstance(item, NumberPoll):
                    for number_id, endpoint, answer in item.answers:
                        changes.transitions += number_projection.record_poll(
                            conn, item.polled_at, number_id, endpoint, answer
                        )
                        changes.numbers.add(number_id)
                    self._polls_since_trim += 1
                    if self._polls_since_trim >= 200:
                        number_projection.trim(conn, item.polled_at)
                        self._polls_since_trim = 0
                    results.append(None)
                elif isinstance(item, Heartbeat):
                    conn.execute(
                        _BEAT, (item.run_started_at, item.at, item.at if item.stopped else None, item.pid)
                    )
                    results.append(None)
                elif isinstance(item, GapMark):
                    results.append(_mark_gap(conn, item))
                    changes.gaps = True
                elif isinstance(item, WATCH_ITEMS):
                    results.append(write_watch(conn, item))
                    changes.watch = True
                else:
                    self._insert_rejection(conn, item)
                    changes.rejections += 1
                    results.append(None)
            projecting = time.perf_counter()
            changes.messages = project_batch(conn, pending)
            projected = time.perf_counter()
            self._count_numbers(conn, changes.new_events)
            if self._rejections_since_trim >= 500:
                conn.execute(
                    "DELETE FROM rejections WHERE id <= (SELECT max(id) FROM rejections) - ?",
                    (REJECTIONS_KEPT,),
                )
                self._rejections_since_trim = 0
            committing = time.perf_counter()
            conn.execute("COMMIT")
            self.seconds["store"] += projecting - started + committing - projected
            self.seconds["project"] += projected - projecting
            self.seconds["commit"] += time.perf_counter() - committing
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return results, changes

    @staticmethod
    def _insert_events(
        conn: sqlite3.Connection, items: list[IncomingEvent]
    ) -> list[tuple[Stored, EventRow | None]]:
        """Store a batch's events in arrival order: new ones inserted (a few statements for
        the whole batch, bulk.py), redeliveries of a stored key counted on its row."""
        if not items:
            return []
        known: dict[str, list[Any]] = {}  # dedupe key -> [id, deliveries, number id]
        _find(conn, known, [i.classified.dedupe_key for i in items])
        # A redelivery names the same number: a body naming another one with the same key (a
        # forged copy stored first) is another event, keyed apart, so it pre-empts nothing.
        _find(conn, known, [guard.scoped_key(k, n) for k, n in _other_number(known, items)])
        ident = next_id(conn, "events")
        rows: list[tuple[object, ...]] = []
        redelivered: dict[int, tuple[int, float]] = {}  # id -> (extra deliveries, last arrival)
        out: list[tuple[Stored, EventRow | None]] = []
        for item in items:
            key, number = item.classified.dedupe_key, clean_text(item.classified.number_id)
            entry = known.get(key)
            if entry is not None and entry[2] != number:
                key = guard.scoped_key(key, number)
                entry = known.get(key)
            if entry is None:
                known[key] = [ident, 1, number]
                values = _event_values(ident, item)
                rows.append(values if key == values[1] else (ident, key, *values[2:]))
                out.append((Stored(ident, 1), _event_row(ident, item)))
                ident += 1
            else:
                entry[1] += 1
                redelivered[entry[0]] = (redelivered.get(entry[0], (0, 0.0))[0] + 1, item.received_at)
                out.append((Stored(entry[0], entry[1]), None))
        insert_rows(conn, _INSERT_EVENTS, rows)
        if redelivered:
            conn.executemany(_REDELIVERED, [(n, at, ident) for ident, (n, at) in redelivered.items()])
        return out

    @staticmethod
    def _count_numbers(conn: sqlite3.Connection, rows: list[EventRow]) -> None:
        # One upsert per number per batch, not per event.
        seen: dict[str, list[float]] = {}
        for row in rows:
            if row.number_id:
                first_last_count = seen.setdefault(row.number_id, [row.received_at, row.received_at, 0])
                first_last_count[1] = row.received_at
                first_last_count[2] += 1
        if seen:
            conn.executemany(_UPSERT_NUMBER, [(n, f, last, c) for n, (f, last, c) in seen.items()])

    def _insert_rejection(self, conn: sqlite3.Connection, r: Rejection) -> None:
        conn.execute(
            _INSERT_REJECTION,
            (
                r.received_at,
                r.status,
                clean_text(r.reason),
                r.method,
                clean_text(r.path),
                r.remote,
                headers_json(r.headers),
                r.body,
                r.body_size,
                clean_text(r.route),
                clean_text(r.number_id),
                int(r.delivery),
                r.diagnosis,
            ),
        )
        self._rejections_since_trim += 1


def _mark_gap(conn: sqlite3.Connection, m: GapMark) -> int:
    """Open a gap (returns its id) or update one: its end, its catch-up."""
    if m.gap_id is None:
        cur = conn.execute(
            "INSERT INTO gaps (kind, started_at, ended_at, reason) VALUES (?, ?, ?, ?)",
            (m.kind, m.started_at, m.ended_at, clean_text(m.reason)),
        )
        return int(cur.lastrowid or 0)
    if m.ended_at is not None:
        conn.execute("UPDATE gaps SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (m.ended_at, m.gap_id))
    if m.caught_up_at is not None:
        conn.execute(
            "UPDATE gaps SET caught_up_at = ?, catch_up = ? WHERE id = ?",
            (m.caught_up_at, m.catch_up, m.gap_id),
        )
    return m.gap_id


def _find(conn: sqlite3.Connection, known: dict[str, list[Any]], keys: list[str]) -> None:
    for part in chunks(list(dict.fromkeys(keys))):
        marks = ",".join("?" * len(part))
        sql = f"SELECT dedupe_key, id, deliveries, number_id FROM events WHERE dedupe_key IN ({marks})"
        known.update((key, [ident, n, number]) for key, ident, n, number in conn.execute(sql, part))


def _other_number(known: dict[str, list[Any]], items: list[IncomingEvent]) -> list[tuple[str, str | None]]:
    out = []
    for item in items:
        entry, number = known.get(item.classified.dedupe_key), clean_text(item.classified.number_id)
        if entry is not None and entry[2] != number:
            out.append((item.classified.dedupe_key, number))
    return out


def _event_values(ident: int, item: IncomingEvent) -> tuple[object, ...]:
    c, v = item.classified, item.verdict
    return (
        ident,
        c.dedupe_key,
        item.received_at,
        item.received_at,
        clean_text(c.event),
        c.group,
        clean_text(c.number_id),
        clean_text(c.from_addr),
        clean_text(c.to_addr),
        clean_text(c.summary),
        clean_text(c.event_time),
        c.kind,
        json.dumps([i.as_dict() for i in c.issues]) if c.issues else None,
        v.status,
        f"#{v.secret_index} {v.secret_fingerprint}" if v.status == "valid" else None,
        clean_text(item.route),
        headers_json(item.headers),
        item.body,
    )


def _event_row(ident: int, item: IncomingEvent) -> EventRow:
    """What the Live pane shows of a new event (Changes.new_events)."""
    c = item.classified
    return EventRow(
        id=ident,
        received_at=item.received_at,
        event=clean_text(c.event) or "",
        group=c.group,
        number_id=clean_text(c.number_id),
        from_addr=clean_text(c.from_addr),
        to_addr=clean_text(c.to_addr),
        summary=clean_text(c.summary) or "",
        signature=item.verdict.status,
        deliveries=1,
        classification=c.kind,
    )
