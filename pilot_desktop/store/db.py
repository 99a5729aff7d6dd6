"""SQLite connections: per-connection pragmas, schema versioning, clear errors.

Only WAL mode is stored in the file, so every connection sets its own pragmas. A
database written by a newer Pilot Desktop, a file that is not ours, or a damaged file
raises a StoreError with a sentence for the user; the file is never replaced or deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from pilot_desktop.store.errors import (
    DatabaseCorrupt,
    DatabaseTooNew,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreReadOnly,
)
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.projection import rebuild
from pilot_desktop.store.readonly import open_readonly
from pilot_desktop.store.schema import APPLICATION_ID, MIGRATIONS

DB_NAME = "pilot-desktop.sqlite3"
SCHEMA_VERSION = len(MIGRATIONS)
__all__ = ["DB_NAME", "SCHEMA_VERSION", "DatabaseCorrupt", "DatabaseTooNew", "StoreError"]


def _pragmas(conn: sqlite3.Connection, *, readonly: bool, durable: bool, busy_ms: int) -> None:
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        # WAL + NORMAL survives a crash or kill of this process but a power cut or OS crash
        # can lose the last commits. The writer, whose COMMIT is an acknowledgement, uses
        # FULL: one fsync per group-committed batch (bench/ingest.py measures the cost).
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -16000")


_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def classify_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Turn sqlite's environmental errors into a sentence naming the file."""
    text = str(exc).lower()
    code = str(getattr(exc, "sqlite_errorname", ""))
    if code.startswith(_CORRUPT) or "not a database" in text or "malformed" in text or "corrupt" in text:
        return DatabaseCorrupt(
            f"The database {path} is damaged or is not a Pilot Desktop database ({exc}). "
            "It was left untouched: move it aside (or restore a backup) and start again."
        )
    if code.startswith("SQLITE_FULL") or "disk is full" in text:
        return StoreFull(f"Cannot write to {path}: {exc}. Free some disk space.")
    if "disk i/o" in text:
        return StoreError(f"Cannot write to {path}: {exc}.", reason="the disk reported an I/O error")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return StoreLocked(f"The database {path} is locked by another program ({exc}).")
    if code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or (
        "readonly" in text or "read-only" in text or "unable to open" in text
    ):
        return StoreReadOnly(f"Cannot open {path} for writing ({exc}). Check its permissions.")
    return StoreError(f"Database error on {path}: {exc}")


def connect(
    path: Path,
    *,
    readonly: bool = False,
    check_same_thread: bool = True,
    durable: bool = False,
    busy_ms: int = 5000,
) -> sqlite3.Connection:
    """Open a connection with our pragmas. Does not create or migrate (see `open_store`).
    `busy_ms`: how long a statement waits for another program's lock."""
    try:
        if readonly:  # also in a folder this user cannot write (store/readonly.py)
            conn = open_readonly(path, check_same_thread=check_same_thread, busy_s=busy_ms / 1000)
        else:
            conn = sqlite3.connect(path, check_same_thread=check_same_thread, isolation_level=None)
        _pragmas(conn, readonly=readonly, durable=durable, busy_ms=busy_ms)
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
    """Create or upgrade the database in `data_dir`; return its path.

    A store that needs no upgrade (its header says so) is not opened here at all: a damaged
    one is left to the writer's checks (store/integrity.py) untouched, where closing a
    read-write connection here would have checkpointed its WAL into it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # message contents are private
    path = data_dir / DB_NAME
    if _ready(path):
        return path
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


def _ready(path: Path) -> bool:
    """An existing store of this schema in WAL mode, by its header: no connection at all,
    so nothing is created beside it (a read-only connection would add -wal and -shm)."""
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError:
        return False  # missing, or unreadable: the connection below says why
    if not (
        len(header) == 100
        and header.startswith(b"SQLite format 3\0")
        and header[18:20] == b"\x02\x02"  # WAL
        and int.from_bytes(header[68:72], "big") == APPLICATION_ID
    ):
        return False
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return int.from_bytes(header[60:64], "big") == SCHEMA_VERSION
    # Commits still in the WAL (a crash, another process) may have changed the version the
    # header shows: ask SQLite, read-only (a read-only connection never checkpoints).
    try:
        conn = connect(path, readonly=True)
    except StoreError:
        return False
    try:
        return bool(conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION)
    except sqlite3.Error:
        return False
    finally:
        conn.close()
