"""The writer's guard: nothing is acknowledged into a damaged store, nothing is written to it.

The writer (writer_process.py, or a thread with `Writer(process=False)`) asks the guard

- at start, before its read-write connection touches the file: `PRAGMA quick_check` on a
  read-only connection when the file is small enough to check at once (START_CHECK_MAX_BYTES),
  else in a background thread (`background_check`); then a write probe that writes nothing
  (a read-only file is found before the first event, not by 503s forever);
- after every batch, before its answers go back (`screen`): whether a statement met
  corruption, and whether the files it wrote are still the ones at the store's paths (a
  removed or replaced database, -wal or -shm file: commits went where no restart finds them).

Damage is final for the writer: every later batch is answered with the error unwritten, the
app stops taking work and reports why, and the writer leaves without closing its connection
(closing the last connection would checkpoint the WAL into the file and delete the WAL).

A locked database (another program's transaction) is not damage: the writer waits
BUSY_MS for the lock, then FAST_BUSY_MS while it stays locked, so the senders get their 503
within about a second and retry. A lock (or another passing problem) met at start is not
final either: the writer process answers 503 with it and starts again (writer_process.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilot_desktop.store.db import classify_error, connect
from pilot_desktop.store.errors import DatabaseCorrupt, StoreError, StoreLocked

log = logging.getLogger(__name__)

# PRAGMA quick_check reads every page: measured on the 1M-event bench store (1.5 GB),
# 1.6 s with the file in the page cache, 72 s from a cold disk. Up to this size the check
# runs before the first write (at most ~0.8 s cold at the same rate); above, in the background.
START_CHECK_MAX_BYTES = 16 * 1024 * 1024
BUSY_MS = 1000
FAST_BUSY_MS = 200
_ERRORS_SHOWN = 3


def quick_check(path: Path, conn: sqlite3.Connection) -> StoreError | None:
    """`PRAGMA quick_check` (the b-tree structure of every table and index, not the
    index-to-table agreement): None when the file is sound, DatabaseCorrupt when it is not,
    another StoreError when it could not be checked (locked, I/O: no verdict)."""
    try:
        rows = [row[0] for row in conn.execute(f"PRAGMA quick_check({_ERRORS_SHOWN})")]
    except sqlite3.Error as exc:
        return classify_error(path, exc)
    if rows == ["ok"]:
        return None
    return damaged(path, "; ".join(rows))


def damaged(path: Path, detail: str, reason: str | None = None) -> DatabaseCorrupt:
    return DatabaseCorrupt(
        f"The database {path} is damaged ({detail}). Nothing more is stored or acknowledged "
        "into it (webhooks are answered 503 and the platform retries them), and it was left "
        "untouched: stop Pilot Desktop, move the file aside or restore a backup, and start again.",
        reason=reason,
    )


def start_check(path: Path, busy_ms: int = BUSY_MS) -> StoreError | None:
    """Before the writer opens the file read-write: its structure, when small enough. A
    DatabaseCorrupt returned is a verdict; another error (a lock) means: check again later."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # created by the writer's connection
    if size > START_CHECK_MAX_BYTES:
        return None
    conn = connect(path, readonly=True, busy_ms=busy_ms)  # locked: said within about a second
    try:
        return quick_check(path, conn)
    finally:
        conn.close()  # read-only: never checkpoints


def probe_write(path: Path, conn: sqlite3.Connection) -> StoreError | None:
    """Whether the writer's connection can write, without writing anything: an unchanged
    `user_version` set inside a transaction that is rolled back."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return classify_error(path, exc)
    return None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class Guard:
    """The writer's side: `start` once, `screen` every batch's results."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.damage: DatabaseCorrupt | None = None
        self._lock = threading.Lock()
        self._files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        self._pinned: list[tuple[int, int] | None] = []
        self._fast_busy = False

    def start(self) -> StoreError | None:
        """After the connection opened: the files it uses, and whether it can write. A
        DatabaseCorrupt or StoreReadOnly returned means: do not start; another problem (a
        lock): not yet, call again later."""
        try:
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens -wal, -shm
        except sqlite3.Error as exc:
            return classify_error(self.path, exc)  # not pinned: screen() pins after a batch
        self._pinned = [_identity(p) for p in self._files]
        return probe_write(self.path, self.conn)

    def trip(self, err: DatabaseCorrupt) -> None:
        with self._lock:
            if self.damage is None:
                self.damage = err  # logged by the app, which stops taking work

    def screen(self, results: list[Any]) -> list[Any]:
        """A batch's results as they may be answered: all failed once damage is known."""
        for res in results:
            if isinstance(res, DatabaseCorrupt):
                self.trip(res)
                break
        if self.damage is None and not self._pinned:
            # start() failed before it could pin (a lock): the files this batch used are the
            # ones to watch from now on.
            self._pinned = [_identity(p) for p in self._files]
        if self.damage is None:
            moved = [p.name for p, pin in zip(self._files, self._pinned, strict=True) if _identity(p) != pin]
            if moved:
                self.trip(
                    damaged(
                        self.path,
                        f"{', '.join(moved)} removed or replaced while the writer had it open; what it "
                        "wrote since is not where a restart would read it",
                        reason="the database's files were removed or replaced while in use",
                    )
                )
        if self.damage is not None:
            return [self.damage] * len(results)
        self._pace(results)
        return results

    def _pace(self, results: list[Any]) -> None:
        # Locked by another program: later batches fail fast until the lock is gone.
        locked = any(isinstance(res, StoreLocked) for res in results)
        if locked != self._fast_busy:
            self._fast_busy = locked
            self.conn.execute(f"PRAGMA busy_timeout = {FAST_BUSY_MS if locked else BUSY_MS}")


def background_check(path: Path, found: Callable[[DatabaseCorrupt], None]) -> threading.Thread:
    """`quick_check` of a store too big to check at start, in a low-priority thread of its
    own with a read-only connection; `found(err)` if it is damaged."""

    def run() -> None:
        with contextlib.suppress(AttributeError, OSError):  # this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            conn = connect(path, readonly=True)
        except StoreError as exc:
            log.warning("the background check of the database could not start: %s", exc)
            return
        try:
            err = quick_check(path, conn)
        finally:
            conn.close()
        if isinstance(err, DatabaseCorrupt):
            found(err)
        elif err is not None:
            log.warning("the background check of the database could not finish: %s", err)
        else:
            log.info("the background check of the database found no damage")

    thread = threading.Thread(target=run, name="store-check", daemon=True)
    thread.start()
    return thread
