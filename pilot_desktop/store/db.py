"""SQLite connections: per-connection pragmas, schema versioning, clear errors.

Only WAL mode is stored in the file, so every connection sets its own pragmas. A
database written by a newer Pilot Desktop, a file that is not ours, or a damaged file
raises a StoreError with a sentence for the user; the file is never replaced or deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from pilot_desktop.store.errors import DatabaseCorrupt, DatabaseTooNew, StoreError
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.projection import rebuild
from pilot_desktop.store.schema import APPLICATION_ID, MIGRATIONS

DB_NAME = "pilot-desktop.sqlite3"
SCHEMA_VERSION = len(MIGRATIONS)
__all__ = ["DB_NAME", "SCHEMA_VERSION", "DatabaseCorrupt", "DatabaseTooNew", "StoreError"]


def _pragmas(conn: sqlite3.Connection, *, readonly: bool, durable: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        # WAL + NORMAL survives a crash or kill of this process but a power cut or OS crash
        # can lose the last commits. The writer, whose COMMIT is an acknowledgement, uses
        # FULL: one fsync per group-committed batch (bench/ingest.py measures the cost).
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -16000")


def classify_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Turn sqlite's environmental errors into a sentence naming the file."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return DatabaseCorrupt(
            f"The database {path} is damaged or is not a Pilot Desktop database ({exc}). "
            "It was left untouched: move it aside (or restore a backup) and start again."
        )
    if "disk is full" in text or "disk i/o" in text:
        return StoreError(f"Cannot write to {path}: {exc}. Free some disk space.")
    if "locked" in text or "busy" in text:
        return StoreError(f"The database {path} is locked by another program ({exc}).")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(f"Cannot open {path} for writing ({exc}). Check its permissions.")
    return StoreError(f"Database error on {path}: {exc}")


def connect(
    path: Path, *, readonly: bool = False, check_same_thread: bool = True, durable: bool = False
) -> sqlite3.Connection:
    """Open a connection with our pragmas. Does not create or migrate (see `open_store`)."""
    try:
        if readonly:
            # as_uri() escapes '#', '?' and '%' in folder names; a raw f-string did not.
            conn = sqlite3.connect(
                path.resolve().as_uri() + "?mode=ro",
                uri=True,
                check_same_thread=check_same_thread,
                isolation_level=None,
            )
        else:
            conn = sqlite3.connect(path, check_same_thread=check_same_thread, isolation_level=None)
        _pragmas(conn, readonly=readonly, durable=durable)
    except sqlite3.Error as exc:
        raise classify_error(path, exc) from exc
    return conn


def check_identity(path: Path, conn: sqlite3.Connection) -> int:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise DatabaseCorrupt(
            f"{path} is an SQLite database of another program, not Pilot Desktop's. "
            "It was left untouched; choose another data directory."
        )
    if version > SCHEMA_VERSION:
        raise DatabaseTooNew(
            f"The database {path} was written by a newer Pilot Desktop (schema {version}; "
            f"this version knows up to {SCHEMA_VERSION}). Upgrade Pilot Desktop, or choose "
            "another data directory. The file was left untouched."
        )
    return int(version)


def migrate(path: Path, conn: sqlite3.Connection, progress: Callable[[str], None] | None = None) -> None:
    # Check and upgrade under one write lock: two processes starting on a new folder at
    # once must not both migrate, nor read a half-made file as "another program's".
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_identity(path, conn)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if progress:
                progress(f"Upgrading the database to schema {target}")
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement)
            if target == 2:  # the message projection, from the events already stored
                rebuild(conn)
            if target == 3:  # number state, from the number.* events already stored
                rebuild_numbers(conn)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {target}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_store(data_dir: Path) -> Path:
    """Create or upgrade the database in `data_dir`; return its path."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # message contents are private
    path = data_dir / DB_NAME
    try:
        conn = connect(path)
        try:
            migrate(path, conn)
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise classify_error(path, exc) from exc
    return path
