"""The writer process's side (its parent is writer_process.py): open the store, then write
what arrives, answer, repeat; until told to stop or orphaned.

Opening is the guard's start (integrity.py): a quick check, the connection, a write probe.
Damage, a read-only file or a newer schema are final: the child says "failed" and leaves. A
lock (another program's transaction, another connection's WAL recovery) or another passing
problem is not: the child says "ready" with the problem, answers every batch with it at once
(503, the sender retries), tries again with backoff (RETRY_FIRST_S doubling up to
RETRY_MAX_S), and says the problem is over (a "problem" message with None) once it opens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pilot_desktop.store import integrity
from pilot_desktop.store.batches import BatchWriter, Item
from pilot_desktop.store.db import StoreError, classify_error, connect
from pilot_desktop.store.errors import DatabaseCorrupt, DatabaseTooNew, StoreReadOnly
from pilot_desktop.store.records import Changes

STOP = None  # the message that tells the child to finish
FINAL = (DatabaseCorrupt, StoreReadOnly, DatabaseTooNew)  # no new start can help
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 2.0


class _Collect(logging.Handler):
    """The child's log records, sent back with each answer and logged by the app (with
    their template, so the app can tell repeats apart)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[int, str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.levelno, record.name, str(record.msg), text))


class _Opening:
    """The store as the child opens it: checked once, connected once, started (pinned and
    probed) until that works."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checked = False
        self.conn: sqlite3.Connection | None = None
        self.guard: integrity.Guard | None = None
        self.problem: StoreError | None = None
        self._wait = RETRY_FIRST_S
        self.retry_at = 0.0

    def attempt(self) -> StoreError | None:
        """One try; the problem that stops it (None: open)."""
        # The first try waits for a lock as a write does; the next ones briefly, so the
        # batches that wait behind a try get their 503 within about a second.
        busy = integrity.BUSY_MS if self.problem is None else integrity.FAST_BUSY_MS
        try:
            if not self.checked:
                refused = integrity.start_check(self.path, busy)  # read-only, before any write
                if refused is not None:
                    return self._failed(refused)
                self.checked = True
            if self.conn is None or self.guard is None:
                self.conn = connect(self.path, durable=True, busy_ms=busy)
                self.guard = integrity.Guard(self.path, self.conn)
            self.conn.execute(f"PRAGMA busy_timeout = {busy}")
            problem = self.guard.start()
            if problem is None:
                self.conn.execute(f"PRAGMA busy_timeout = {integrity.BUSY_MS}")
        except StoreError as exc:
            problem = exc
        except sqlite3.Error as exc:  # the busy_timeout pragmas: they read nothing
            problem = classify_error(self.path, exc)
        return self._failed(problem) if problem is not None else None

    def _failed(self, problem: StoreError) -> StoreError:
        self.problem = problem
        self.retry_at = time.monotonic() + self._wait
        self._wait = min(self._wait * 2, RETRY_MAX_S)
        return problem

    def timeout(self) -> float:
        return max(0.0, self.retry_at - time.monotonic())


def serve(path: str, pipe: Connection, projections: bool, max_batch: int) -> None:
    """The child's main."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    logging.getLogger().setLevel(logging.INFO)
    store = _Opening(Path(path))
    problem = store.attempt()
    if isinstance(problem, FINAL):
        pipe.send(("failed", problem))
        _leave()
    sending = threading.Lock()  # the answers and the background check's notice

    def opened() -> BatchWriter:
        guard, conn = store.guard, store.conn
        assert guard is not None and conn is not None

        def found(err: DatabaseCorrupt) -> None:
            guard.trip(err)
            with sending, contextlib.suppress(OSError):
                pipe.send(("damaged", err))

        if store.path.stat().st_size > integrity.START_CHECK_MAX_BYTES:
            integrity.background_check(store.path, found)
        return BatchWriter(store.path, conn, projections=projections)

    writer = opened() if problem is None else None
    pipe.send(("ready", problem))
    pending: list[Item] = []
    stopping = False
    try:
        while pending or not stopping:
            try:
                if writer is None and store.timeout() == 0:  # not open yet, and time to try
                    problem = store.attempt()
                    if isinstance(problem, FINAL):
                        with sending:
                            pipe.send(("failed", problem))
                        _leave()
                    if problem is None:
                        writer = opened()
                        with sending:
                            pipe.send(("problem", None))  # the problem at start is over
                if writer is None and not pending and not stopping and not pipe.poll(store.timeout()):
                    continue  # no work until the next try
                # Block for the first group; then take what else has arrived meanwhile.
                while not stopping and (not pending or (len(pending) < max_batch and pipe.poll())):
                    group = pipe.recv()
                    if group is STOP:
                        stopping = True
                    else:
                        pending.extend(group)
            except EOFError:
                return  # the app is gone: nobody waits for an answer
            if not pending:
                break
            batch, pending = pending[:max_batch], pending[max_batch:]
            answer = _write(writer, store, batch, collect)
            with sending:
                pipe.send(("answer", answer))
            collect.records = []
    finally:
        if store.guard is not None and store.guard.damage is not None:
            _leave()
        if store.conn is not None:
            store.conn.close()


def _write(
    writer: BatchWriter | None, store: _Opening, batch: list[Item], collect: _Collect
) -> tuple[Any, ...]:
    """One batch written (or, not open or damaged, answered with why not): the answer."""
    guard = store.guard
    if writer is None or guard is None:  # not open: the problem that stops it, at once
        waiting = store.problem or StoreError("the store is not open yet")
        return (len(batch), [waiting] * len(batch), Changes(), {}, waiting, collect.records)
    before = dict(writer.seconds)
    if guard.damage is None:
        results, changes = writer.write(batch)
    else:  # damaged: nothing more is written
        results, changes = [guard.damage] * len(batch), Changes()
    results = guard.screen(results)
    if guard.damage is not None:
        changes = Changes()  # nothing of it is to be shown as stored
    problem = guard.damage or next((r for r in results if isinstance(r, StoreError)), None)
    spent = {k: v - before[k] for k, v in writer.seconds.items()}
    return (len(batch), results, changes, spent, problem, collect.records)


def _leave() -> None:
    """Exit without closing the connection: closing the last one checkpoints the WAL into
    the file and deletes the WAL, and a damaged store is never written to."""
    os._exit(0)
