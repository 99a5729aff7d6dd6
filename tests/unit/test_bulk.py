"""bulk.insert_rows: every row lands, in order, whatever the batch size (chunk edges)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pilot_desktop.store.bulk import CHUNK, insert_rows, next_id


@pytest.mark.parametrize("n", [0, 1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5, 256])
def test_every_row_is_inserted_once_in_order(tmp_path: Path, n: int) -> None:
    conn = sqlite3.connect(tmp_path / "t.sqlite3")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB)")
    # NULLs in any column but the first, as the padding rows are all-NULL.
    rows = [(i + 1, f"x{i}" if i % 3 else None, i / 7 if i % 2 else None, bytes([i % 256])) for i in range(n)]
    insert_rows(conn, "INSERT INTO t (id, a, b, c)", rows)
    assert conn.execute("SELECT id, a, b, c FROM t ORDER BY rowid").fetchall() == rows
    assert next_id(conn, "t") == n + 1


def test_a_conflict_fails_the_whole_statement(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    insert_rows(conn, "INSERT INTO t (id, a)", [(2, "old")])
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        insert_rows(conn, "INSERT INTO t (id, a)", [(1, "new"), (2, "clash"), (3, "new")])
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT id, a FROM t").fetchall() == [(2, "old")]
