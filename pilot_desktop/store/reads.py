"""The read facade: everything the window, the tray and the CLI read from the store.

One object per open store, handed to whoever reads (never a path to open). Each query runs
on a read-only connection: the home thread (the window's) keeps one, a worker thread (the
window's background reads) opens one per read; `close()` interrupts the reads under way
instead of waiting for them. A storage problem comes out as a StoreError with a sentence,
never a raw sqlite3 error. The facade also carries the writer's change feed and health, so
a pane needs nothing else. Its methods are the seam a second store implementation (the
team mode's) will plug into.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from pilot_desktop.store import (
    cadence_queries,
    catch_up_queries,
    funnel_queries,
    live_queries,
    message_queries,
    number_queries,
    queries,
    timelines,
    watch_store,
)
from pilot_desktop.store.db import (
    DB_NAME,
    SCHEMA_VERSION,
    StoreError,
    check_identity,
    classify_error,
    connect,
)
from pilot_desktop.store.records import Changes

if TYPE_CHECKING:
    from pilot_desktop.store.writer import Writer

P = ParamSpec("P")
T = TypeVar("T")
Listener = Callable[[Changes], None]


def _query(fn: Callable[Concatenate[sqlite3.Connection, P], T]) -> Callable[Concatenate[Reads, P], T]:
    @functools.wraps(fn)
    def method(self: Reads, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(fn, *args, **kwargs)

    return method


@dataclass(frozen=True)
class Health:
    """Whether webhooks are being stored: `ok`, a `problem` the writer is getting over (a
    replaced writer process, a locked or full disk: 503s the platform retries) or `stopped`."""

    state: str
    reason: str | None = None


class Reads:
    def __init__(self, path: Path, feed: Writer | None = None) -> None:
        """`feed`: the writer whose committed changes and health this facade passes on."""
        self.path = path
        self._feed = feed
        self._home = threading.get_ident()  # the window's (or the command's) thread
        self._conn: sqlite3.Connection | None = None  # kept for the home thread's small reads
        self._open: set[sqlite3.Connection] = set()  # worker reads under way
        self._guard = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, data_dir: Path) -> Reads:
        """Read-only on an existing store, for the command line: refuses (StoreError) a
        missing, foreign, too new or not yet upgraded database; never creates or upgrades one."""
        path = data_dir / DB_NAME
        if not path.exists():
            raise StoreError(f"No database in {data_dir}: nothing has been received there yet.")
        reads = cls(path)
        try:
            version = reads.run(lambda conn: check_identity(path, conn))
        except BaseException:
            reads.close()
            raise
        if version < SCHEMA_VERSION:
            reads.close()
            raise StoreError(
                f"The database {path} was written by an older Pilot Desktop (schema {version}). Upgrade "
                "it with `pilot-desktop rebuild` (or start Pilot Desktop once), then try again."
            )
        return reads

    # -- plumbing ------------------------------------------------------------------------------
    def run(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(connection, ...)` on a read-only connection; sqlite errors as StoreError. The
        home thread keeps one connection (its reads are small and frequent); a worker thread
        gets its own for the read and closes it after, so big scans leave no page cache
        behind (each connection may cache 16 MB)."""
        home = threading.get_ident() == self._home
        conn = self._home_conn() if home else self._worker_conn()
        try:
            return fn(conn, *args, **kwargs)
        except sqlite3.Error as exc:
            raise classify_error(self.path, exc) from exc
        finally:
            if not home:
                with self._guard:
                    self._open.discard(conn)
                conn.close()

    def _home_conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"The store {self.path} is closed.")
        if self._conn is None:
            self._conn = connect(self.path, readonly=True, check_same_thread=False)
        return self._conn

    def _worker_conn(self) -> sqlite3.Connection:
        with self._guard:
            if self._closed:
                raise StoreError(f"The store {self.path} is closed.")
            # check_same_thread off: close() may interrupt it from the home thread.
            conn = connect(self.path, readonly=True, check_same_thread=False)
            self._open.add(conn)
        # A read that had not started its statement when close() came stops at its next steps.
        conn.set_progress_handler(lambda: 1 if self._closed else 0, 10_000)
        return conn

    def close(self) -> None:
        """From the home thread: close its connection; worker reads under way are
        interrupted (they close their own connections)."""
        with self._guard:  # held: a worker cannot close its connection while it is interrupted
            self._closed = True
            for conn in self._open:
                conn.interrupt()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the writer's side ---------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """`listener(changes)` runs on the loop after each COMMIT that changed something."""
        if self._feed is not None:
            self._feed.subscribe(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if self._feed is not None:
            self._feed.unsubscribe(listener)

    def health(self) -> Health:
        writer = self._feed
        if writer is None:
            return Health("stopped", "this window does not store webhooks (no receiver)")
        if not writer.alive:
            return Health("stopped", writer.last_error or "the store writer stopped")
        problem = writer.last_error
        return Health("problem", problem) if problem else Health("ok")

    def size(self) -> int:
        """Bytes on disk, the WAL included."""
        return queries.database_size(self.path)

    # -- events ----------------------------------------------------------------------------------
    event_ids = _query(queries.event_ids)
    rows_by_ids = _query(queries.rows_by_ids)
    event = _query(queries.get_event)
    numbers_seen = _query(queries.numbers_seen)
    arrivals_per_second = _query(queries.arrivals_per_second)
    last_event_at = _query(queries.last_event_at)
    stored_keys = _query(queries.stored_keys)
    events_on_route = _query(queries.events_on_route)

    # -- refusals and gaps -------------------------------------------------------------------------
    rejections = _query(queries.rejections)
    rejection_detail = _query(queries.rejection_detail)
    rejection_details = _query(queries.rejection_details)
    gaps = _query(queries.gaps)
    heartbeat = _query(queries.heartbeat)

    # -- the watch over the path to this receiver (store/watch_store.py) ----------------------------
    probes = _query(watch_store.probes)
    tunnel = _query(watch_store.tunnel)
    url_history = _query(watch_store.url_history)
    drift = _query(watch_store.drift)
    cadences = _query(cadence_queries.cadences)  # the silence alerts' input (core/alerts.py)
    live_snapshot = _query(live_queries.snapshot)
    refusal_marks = _query(live_queries.refusal_marks)
    gap_marks = _query(live_queries.gap_marks)
    rejections_by_ids = _query(live_queries.rejections_by_ids)
    refusal_count = _query(live_queries.refusal_count)

    # -- messages ----------------------------------------------------------------------------------
    message_page = _query(message_queries.page)
    messages_page = _query(message_queries.messages_page)
    count_messages = _query(message_queries.count_messages)
    message_changes = _query(message_queries.changes)
    messages_by_ids = _query(message_queries.messages_by_ids)
    messages_of_events = _query(message_queries.messages_of_events)
    message_of_event = _query(message_queries.message_of_event)
    duplicate_counts = _query(message_queries.duplicate_counts)
    search_messages = _query(message_queries.search)
    resolve_message = _query(message_queries.resolve)
    stuck_count = _query(message_queries.stuck_count)
    timeline = _query(timelines.timeline)
    timeline_touched = _query(timelines.timeline_touched)
    funnel_snapshot = _query(funnel_queries.snapshot)
    outbound_by_ids = _query(catch_up_queries.outbound_by_ids)  # catch-up after a gap
    open_outbound = _query(catch_up_queries.open_outbound)

    # -- numbers -------------------------------------------------------------------------------------
    number_names = _query(number_queries.names)
    number_states = _query(number_queries.states)
    number_summaries = _query(number_queries.summaries)
    numbers_overview = _query(number_queries.overview)
    transitions = _query(number_queries.transitions)
