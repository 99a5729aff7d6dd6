"""Recompute the projections (messages, their steps, number state) from the raw events.

In one write transaction (`BEGIN IMMEDIATE`): a running receiver's writer waits for it (its
busy timeout, 5 s) and past that answers 503, which the platform retries; while the receiver
holds the lock, the rebuild waits up to `wait` seconds, then gives up. Either way nothing
acknowledged is lost and no half-rebuilt projection is ever visible. A database of an older
schema is upgraded instead: the upgrade projects every stored event itself.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pilot_desktop.store.db import (
    DB_NAME,
    SCHEMA_VERSION,
    StoreError,
    check_identity,
    classify_error,
    connect,
    open_store,
)
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.projection import rebuild as rebuild_messages

Progress = Callable[[str], None]


class StoreBusy(StoreError):
    """Another process kept the write lock for longer than the rebuild would wait."""


@dataclass(frozen=True)
class Rebuilt:
    messages: int
    steps: int
    numbers: int
    seconds: float
    upgraded_from: int | None = None  # the old schema, when this was an upgrade


def rebuild(data_dir: Path, *, wait: float, progress: Progress | None = None) -> Rebuilt:
    """Raises StoreError (no database, damaged, too new) or StoreBusy; nothing is changed then."""
    db = data_dir / DB_NAME
    if not db.exists():
        raise StoreError(f"No database in {data_dir}: nothing has been received there yet.")
    say = progress or (lambda _: None)
    conn = connect(db)
    try:
        version = check_identity(db, conn)
        started = time.monotonic()
        if version < SCHEMA_VERSION:
            say(f"upgrading the database from schema {version}; this projects every stored event")
            open_store(data_dir)
            messages, steps = _counts(conn)
            numbers = int(conn.execute("SELECT count(*) FROM number_state").fetchone()[0])
            return Rebuilt(messages, steps, numbers, time.monotonic() - started, version)
        messages, steps, numbers = _locked(conn, db, wait, say)
        return Rebuilt(messages, steps, numbers, time.monotonic() - started)
    except sqlite3.Error as exc:
        raise classify_error(db, exc) from exc
    finally:
        conn.close()


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    return int(messages), int(conn.execute("SELECT count(*) FROM message_steps").fetchone()[0])


def _locked(conn: sqlite3.Connection, db: Path, wait: float, say: Progress) -> tuple[int, int, int]:
    """The rebuild in one write transaction; the counts it committed."""
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise StoreBusy(
                f"The database {db} stayed busy for {wait:g} s: another Pilot Desktop (serve or "
                "the window) keeps writing to it. Nothing was changed; try again, with a longer "
                "--wait, or stop it first."
            ) from exc
        raise
    say("rebuilding: the receiver of a running Pilot Desktop waits until this is done")
    try:
        rebuild_messages(conn, lambda done, total: say(f"rebuilding: {done:,} / {total:,} message events"))
        numbers = rebuild_numbers(conn)
        counts = (*_counts(conn), numbers)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts
