"""The single writer: one thread, group commit, acknowledgements after COMMIT.

Handlers put `(item, future)` on a bounded queue and await the future. The thread takes
one item, gathers what else is queued (up to `max_batch`, waiting up to `window` seconds
for more), writes them in one transaction and, after COMMIT, wakes the loop once per
batch to resolve the futures and publish one `Changes` descriptor.

The default window is 0 ("natural" group commit): under load the queue fills while the
previous COMMIT runs, so batches form by themselves (~40 rows at 64 connections), and a
lone request does not wait. bench/ingest.py: same throughput as a 1 ms window, lone p50
0.8 ms instead of 2.0 ms. A full queue is refused at once (`Overloaded`), so
the receiver answers 503 and memory stays bounded.

A batch is written in a few statements, not one per event (bulk.py): one query finds the
redeliveries among the batch's dedupe keys, the new events get the ids SQLite would give
them and go in with one multi-row INSERT, and the projections do the same. Every
statement step waits for the GIL on a busy receiver; one `execute` per event made the
writer's wall time 2.7x its CPU time (bench/ingest.py: 5,855 -> 7,917 req/s, projections
off; 4,426 -> 6,463 on).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilot_desktop.store import number_projection
from pilot_desktop.store.bulk import chunks, insert_rows, next_id
from pilot_desktop.store.db import StoreError, classify_error, connect
from pilot_desktop.store.projection import Pending, project_batch
from pilot_desktop.store.records import (
    Changes,
    EventRow,
    IncomingEvent,
    NumberPoll,
    Rejection,
    Stored,
    clean_text,
    headers_json,
)
from pilot_desktop.store.schema import REJECTIONS_KEPT

log = logging.getLogger(__name__)

Item = IncomingEvent | Rejection | NumberPoll
_STOP = object()

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
INSERT INTO rejections (received_at, status, reason, method, path, remote, headers, body, body_size)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


class Overloaded(Exception):
    """The write queue is full: answer 503 and let the sender retry."""


class WriterClosed(Exception):
    """The writer is draining or stopped and takes no new work."""


class Writer:
    def __init__(
        self,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        *,
        max_queue: int = 4096,
        max_bytes: int = 64 * 1024 * 1024,
        window: float = 0.0,
        max_batch: int = 256,
        projections: bool = True,
    ) -> None:
        self.path = path
        self._loop = loop
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        # Bodies are up to 1 MiB each: bound the bytes waiting, not only the count.
        self._max_bytes = max_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._window = window
        self._max_batch = max_batch
        # Off only in bench/ingest.py, to measure what the projections cost; a store written
        # without them needs `pilot-desktop rebuild`.
        self._projections = projections
        self._listeners: list[Callable[[Changes], None]] = []
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._rejections_since_trim = 0
        self._polls_since_trim = 0
        self.batches = 0  # counters for the status bar and benchmarks
        self.rows = 0
        # Wall seconds in each part of the transactions, for bench/ingest.py.
        self.seconds = {"store": 0.0, "project": 0.0, "commit": 0.0}
        self.last_error: str | None = None

    # -- loop side -------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Changes], None]) -> None:
        """`listener` runs on the loop after each COMMIT that changed something."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Changes], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def start(self) -> None:
        conn = connect(self.path, check_same_thread=False, durable=True)
        self._accepting = True
        self._thread = threading.Thread(target=self._run, args=(conn,), name="store-writer", daemon=True)
        self._thread.start()

    @property
    def queue_size(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @staticmethod
    def _size(item: Item) -> int:
        return 512 + len(item.body or b"")

    def submit(self, item: Item) -> asyncio.Future[Stored | None]:
        if not self._accepting:
            raise WriterClosed("the store is shutting down")
        size = self._size(item)
        with self._bytes_lock:
            if self._queued_bytes + size > self._max_bytes:
                raise Overloaded(f"write queue holds {self._queued_bytes} bytes")
            self._queued_bytes += size
        fut: asyncio.Future[Stored | None] = self._loop.create_future()
        try:
            self._queue.put_nowait((item, fut))
        except queue.Full:
            with self._bytes_lock:
                self._queued_bytes -= size
            raise Overloaded(f"write queue full ({self._queue.maxsize} pending)") from None
        return fut

    async def stop(self) -> None:
        """Stop taking work, write everything already queued, close. Idempotent."""
        self._accepting = False
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop = asyncio.get_running_loop()
        if not thread.is_alive():
            return  # it died (and failed what was queued, see _run): nothing to drain
        # put() waits while the queue is full (the thread is draining it): off the loop.
        await loop.run_in_executor(None, self._queue.put, _STOP)
        await loop.run_in_executor(None, thread.join)
        # Resolutions scheduled by the last batch run before this coroutine resumes
        # further, so every accepted request gets its answer.
        await asyncio.sleep(0)

    # -- writer thread ---------------------------------------------------------------

    def _gather(self, first: Any) -> tuple[list[tuple[Item, asyncio.Future[Stored | None]]], bool]:
        batch = [first]
        deadline = time.monotonic() + self._window
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            self._loop_body(conn)
        except BaseException as exc:  # a bug: never leave handlers waiting forever
            log.exception("the store writer stopped")
            self._accepting = False
            self.last_error = f"the store writer stopped: {exc!r}"
            self._fail_queued(StoreError(self.last_error))
        finally:
            conn.close()

    def _take_queued(self) -> list[tuple[Item, Any]]:
        """Everything waiting in the queue now, stop markers left out."""
        taken: list[tuple[Item, Any]] = []
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if nxt is not _STOP:
                taken.append(nxt)

    def _fail_queued(self, error: StoreError) -> None:
        futures = [fut for _, fut in self._take_queued()]
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver, futures, [error] * len(futures), Changes())

    def _loop_body(self, conn: sqlite3.Connection) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stop = self._gather(first)
            self._write_batch(conn, batch)
        # Drain what was queued before stop() (submit refuses new work by now).
        rest = self._take_queued()
        for i in range(0, len(rest), self._max_batch):
            self._write_batch(conn, rest[i : i + self._max_batch])

    def _write_batch(self, conn: sqlite3.Connection, batch: list[tuple[Item, Any]]) -> None:
        try:
            results, changes = self._transaction(conn, [item for item, _ in batch])
            self.last_error = None
        except sqlite3.OperationalError as exc:
            # Environmental (locked, disk full, I/O): every item would fail the same way,
            # each after busy_timeout. Fail the batch once; the senders get 503 and retry.
            err = classify_error(self.path, exc)
            self.last_error = str(err)
            log.error("could not store a batch of %d: %s", len(batch), err)
            results, changes = [err] * len(batch), Changes()
        except Exception as exc:  # isolate the item that broke the batch; never die
            log.warning("batch of %d failed (%s); retrying one by one", len(batch), exc)
            results, changes = [], Changes()
            for item, _ in batch:
                try:
                    res, ch = self._transaction(conn, [item])
                    results.append(res[0])
                    changes.new_events += ch.new_events
                    changes.redelivered.update(ch.redelivered)
                    changes.rejections += ch.rejections
                    changes.messages |= ch.messages
                except Exception as one_exc:
                    if isinstance(one_exc, sqlite3.Error):
                        err = classify_error(self.path, one_exc)
                    else:
                        log.exception("bug while storing an item")
                        err = StoreError(f"internal error while storing: {one_exc!r}")
                    self.last_error = str(err)
                    log.error("could not store an item: %s", err)
                    results.append(err)
        self.batches += 1
        self.rows += len(batch)
        with self._bytes_lock:
            self._queued_bytes -= sum(self._size(item) for item, _ in batch)
        futures = [fut for _, fut in batch]
        # RuntimeError: the loop closed during shutdown; nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver, futures, results, changes)

    def _transaction(self, conn: sqlite3.Connection, items: list[Item]) -> tuple[list[Any], Changes]:
        changes = Changes()
        results: list[Any] = []
        pending: list[Pending] = []  # new message events, projected together below
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            inserted = iter(self._insert_events(conn, [i for i in items if isinstance(i, IncomingEvent)]))
            for item in items:
                if isinstance(item, IncomingEvent):
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
        known: dict[str, list[int]] = {}  # dedupe key -> [id, deliveries]
        for part in chunks(list(dict.fromkeys(i.classified.dedupe_key for i in items))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT dedupe_key, id, deliveries FROM events WHERE dedupe_key IN ({marks})"
            known.update((key, [ident, n]) for key, ident, n in conn.execute(sql, part))
        ident = next_id(conn, "events")
        rows: list[tuple[object, ...]] = []
        redelivered: dict[int, tuple[int, float]] = {}  # id -> (extra deliveries, last arrival)
        out: list[tuple[Stored, EventRow | None]] = []
        for item in items:
            entry = known.get(item.classified.dedupe_key)
            if entry is None:
                known[item.classified.dedupe_key] = [ident, 1]
                rows.append(_event_values(ident, item))
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
            ),
        )
        self._rejections_since_trim += 1

    # -- back on the loop ------------------------------------------------------------

    def _deliver(self, futures: list[asyncio.Future[Any]], results: list[Any], changes: Changes) -> None:
        for fut, res in zip(futures, results, strict=True):
            if fut.done():  # the client went away; the row is stored all the same
                continue
            if isinstance(res, StoreError):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        if changes:
            for listener in list(self._listeners):
                try:
                    listener(changes)
                except Exception:
                    log.exception("change listener failed")


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
