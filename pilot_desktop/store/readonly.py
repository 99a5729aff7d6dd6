"""A read-only connection that works where this user cannot write (a read-only data folder,
a backup on read-only media): `export`, `messages`, `timeline` and `numbers` only read.

SQLite opens a WAL database read-only only if its -shm index exists or can be created. In
a folder this user cannot write, with no -shm (the last writer closed cleanly), the plain
read-only open fails. Then, when the -wal file is absent or empty, the main file holds every
commit and is opened `immutable=1` (no index, no locks). `immutable` would ignore commits
still in a non-empty -wal, so that case is refused with a sentence instead of read short.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pilot_desktop.store.errors import StoreError

# What a read-only open says when it would have to create the -shm (or -wal) beside the file.
_NEEDS_WRITE = frozenset(
    {"SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY", "SQLITE_READONLY_CANTINIT", "SQLITE_READONLY"}
)


def _open(uri: str, check_same_thread: bool, busy_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        uri, uri=True, timeout=busy_s, check_same_thread=check_same_thread, isolation_level=None
    )
    try:
        conn.execute("PRAGMA schema_version").fetchone()  # reads page 1: opens the WAL index
    except BaseException:
        conn.close()
        raise
    return conn


def open_readonly(path: Path, *, check_same_thread: bool = True, busy_s: float = 5.0) -> sqlite3.Connection:
    """Raises sqlite3.Error (the caller words it) or StoreError (a -wal it cannot read)."""
    # as_uri() escapes '#', '?' and '%' in folder names; a raw f-string did not.
    uri = path.resolve().as_uri()
    try:
        return _open(f"{uri}?mode=ro", check_same_thread, busy_s)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") not in _NEEDS_WRITE or not path.is_file():
            raise
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"Cannot read {path} without write access to {path.parent}: its recent writes are "
                f"still in {wal.name}, which SQLite reads only with a {path.name}-shm index it cannot "
                "create there. Copy the folder somewhere writable and read the copy (or start Pilot "
                "Desktop on it once). Nothing was changed."
            ) from exc
        return _open(f"{uri}?mode=ro&immutable=1", check_same_thread, busy_s)
