"""Writing many rows in few SQLite calls, for the writer.

Every statement step releases the GIL and takes it back; on a busy receiver the loop
thread holds it, so each step costs the writer a wait of up to one request's worth of
Python (bench/ingest.py: the writer's wall time was 2.7x its CPU time with one `execute`
per event). `executemany` steps once per row, so it waits once per row too. Multi-row
VALUES steps once per chunk: the SQLite work runs without the GIL, in one piece, beside
the loop.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence

CHUNK = 64  # rows per statement: 64 x 25 values stay far under SQLite's 32,766 parameters


@functools.cache
def _values_sql(insert: str, width: int, rows: int) -> str:
    row = f"({','.join('?' * width)})"
    return f"{insert} SELECT * FROM (VALUES {','.join([row] * rows)}) WHERE column1 IS NOT NULL"


def insert_rows(conn: sqlite3.Connection, insert: str, rows: Sequence[Sequence[object]]) -> None:
    """Run `insert` ("INSERT INTO t (a, b)") for all `rows`, in order, in one statement
    per 64 rows. The first value of every row must not be NULL (an id).

    A chunk is padded with NULL rows up to a power of two, which the WHERE drops: one
    statement for any batch size, and only seven statement texts per table (1, 2, 4 ...
    64 rows), so they stay in the connection's statement cache."""
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        size = 1 << (len(chunk) - 1).bit_length()
        values: list[object] = [v for row in chunk for v in row]
        values += [None] * ((size - len(chunk)) * len(chunk[0]))
        conn.execute(_values_sql(insert, len(chunk[0]), size), values)


def chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The rowid SQLite would give the next row of `table` (INTEGER PRIMARY KEY without
    AUTOINCREMENT: max + 1). Only the writer inserts, inside its transaction, so ids
    given out in Python from here on are the ones SQLite would have chosen."""
    return 1 + int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
