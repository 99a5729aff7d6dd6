"""Read side: stream pages by id (keyset, never OFFSET), one event, export, rejections, gaps."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pilot_desktop.core.diagnosis import shown_path, shown_text
from pilot_desktop.store.read_models import EventFilter, IdList
from pilot_desktop.store.records import (
    EventDetail,
    EventRow,
    Gap,
    HeartbeatRow,
    RejectionDetail,
    RejectionRow,
)

_ROW_COLS = (
    "id, received_at, event, event_group, number_id, from_addr, to_addr, summary, "
    "signature, deliveries, classification"
)


def _row(r: tuple) -> EventRow:
    return EventRow(*r)


def event_ids(conn: sqlite3.Connection, flt: EventFilter, chunk: int = 50_000) -> IdList:
    """Every matching id, oldest first.

    Unfiltered, the ids are 1..max (events are never deleted and SQLite hands out
    max(rowid) + 1), so a `range` stands for them in constant memory instead of a scan
    that reads every row's body. The count check keeps that honest should rows ever be
    deleted; it reads the smallest index, not the table. Filtered: a compact array.
    """
    if flt == EventFilter():
        # Two subqueries: each is one index lookup; min and max in one SELECT scan an index.
        lo, hi = conn.execute(
            "SELECT coalesce((SELECT min(id) FROM events), 1), coalesce((SELECT max(id) FROM events), 0)"
        ).fetchone()
        count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if lo == 1 and count == hi:
            return range(1, hi + 1)
    where, params = flt.where()
    ids: array[int] = array("q")
    cur = conn.execute(f"SELECT id FROM events WHERE {where} ORDER BY id", params)
    while rows := cur.fetchmany(chunk):
        ids.extend(r[0] for r in rows)
    return ids


def rows_by_ids(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, EventRow]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    # A contiguous id range is one index range scan; filter the few extra rows in Python.
    rows = conn.execute(
        f"SELECT {_ROW_COLS} FROM events WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?",
        (wanted[0], wanted[-1], max(len(wanted) * 4, 64)),
    ).fetchall()
    found = {r[0]: _row(r) for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            q = f"SELECT {_ROW_COLS} FROM events WHERE id IN ({','.join('?' * len(part))})"
            found.update((r[0], _row(r)) for r in conn.execute(q, part))
    return {i: found[i] for i in wanted if i in found}


def latest(
    conn: sqlite3.Connection, flt: EventFilter, limit: int, before_id: int | None = None
) -> list[EventRow]:
    """Newest first, keyset paged with `before_id`."""
    where, params = flt.where()
    if before_id is not None:
        where += " AND id < ?"
        params.append(before_id)
    q = f"SELECT {_ROW_COLS} FROM events WHERE {where} ORDER BY id DESC LIMIT ?"
    return [_row(r) for r in conn.execute(q, [*params, limit])]


def get_event(conn: sqlite3.Connection, event_id: int) -> EventDetail | None:
    r = conn.execute(
        f"SELECT {_ROW_COLS}, event_time, last_received_at, schema_issues, signature_secret, "
        "route, headers, body FROM events WHERE id = ?",
        (event_id,),
    ).fetchone()
    return _detail(r) if r else None


def _detail(r: tuple) -> EventDetail:
    return EventDetail(
        row=_row(r[:11]),
        event_time=r[11],
        last_received_at=r[12],
        schema_issues=json.loads(r[13]) if r[13] else [],
        signature_secret=r[14],
        route=r[15],
        headers=[(k, v) for k, v in json.loads(r[16])],
        body=bytes(r[17]),
    )


def iter_events(conn: sqlite3.Connection, chunk: int = 1000) -> Iterator[EventDetail]:
    """Every stored event, oldest first, in keyset-paged chunks (constant memory)."""
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT {_ROW_COLS}, event_time, last_received_at, schema_issues, signature_secret, "
            "route, headers, body FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last, chunk),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            yield _detail(r)
        last = rows[-1][0]


def count_events(conn: sqlite3.Connection, flt: EventFilter | None = None) -> int:
    if flt is None or flt == EventFilter():
        # max(id) is O(1); ids are never deleted, so it equals the count.
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
    where, params = flt.where()
    return int(conn.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0])


def arrivals_per_second(conn: sqlite3.Connection, since: float) -> list[tuple[int, int]]:
    q = "SELECT CAST(received_at AS INTEGER), count(*) FROM events WHERE received_at >= ? GROUP BY 1"
    return [(int(s), int(n)) for s, n in conn.execute(q, (since,))]


def last_event_at(conn: sqlite3.Connection) -> float | None:
    r = conn.execute("SELECT received_at FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return float(r[0]) if r else None


def numbers_seen(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT number_id FROM numbers_seen ORDER BY number_id")]


def stored_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys are stored."""
    wanted, found = sorted(set(keys)), set[str]()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        sql = f"SELECT dedupe_key FROM events WHERE dedupe_key IN ({','.join('?' * len(chunk))})"
        found.update(r[0] for r in conn.execute(sql, chunk))
    return found


def events_on_route(
    conn: sqlite3.Connection, route: str, since: float, until: float
) -> list[tuple[int, str, str, float]]:
    """(id, dedupe key, event, received at) of the events received on `route` in a time span."""
    rows = conn.execute(
        "SELECT id, dedupe_key, event, received_at FROM events"
        " WHERE route = ? AND received_at BETWEEN ? AND ? ORDER BY id",
        (route, since, until),
    )
    return [(int(i), str(k), str(e), float(t)) for i, k, e, t in rows]


_REJECTION_COLS = (
    "id, received_at, status, reason, method, path, remote, body_size, route, number_id, delivery, diagnosis"
)


def _rejection(r: Any, token: str | None = None) -> RejectionRow:
    """The path's hook token is masked (core/diagnosis.py `shown_path`): `token`, this
    receiver's, reads `<token>`; any other shows its first characters only."""
    diagnosis = None
    if r[11]:
        with contextlib.suppress(ValueError):
            diagnosis = json.loads(r[11])
    return RejectionRow(
        int(r[0]),
        float(r[1]),
        int(r[2]),
        str(r[3]),
        str(r[4]),
        shown_path(str(r[5]), token),
        r[6],
        r[7],
        r[8],
        r[9],
        bool(r[10]),
        diagnosis if isinstance(diagnosis, dict) else None,
    )


REJECTION_COLS, rejection_row = _REJECTION_COLS, _rejection  # for store/live_queries.py


def rejections(
    conn: sqlite3.Connection,
    limit: int = 200,
    since: float | None = None,
    deliveries_only: bool = False,
    token: str | None = None,
) -> list[RejectionRow]:
    """Newest first; `since` (unix seconds) bounds them in time, `deliveries_only` keeps the
    POSTs to /hooks/... (stray requests, scanners, are left out)."""
    where, args = ["received_at >= ?"], [since if since is not None else 0.0]
    if deliveries_only:
        where.append("delivery = 1")
    q = f"SELECT {_REJECTION_COLS} FROM rejections WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
    return [_rejection(r, token) for r in conn.execute(q, (*args, limit))]


def rejection_detail(
    conn: sqlite3.Connection, rejection_id: int, token: str | None = None
) -> RejectionDetail | None:
    r = conn.execute(
        f"SELECT {_REJECTION_COLS}, headers, body FROM rejections WHERE id = ?", (rejection_id,)
    ).fetchone()
    return None if r is None else _rejection_detail(r, token)


def rejection_details(
    conn: sqlite3.Connection,
    limit: int = 200,
    since: float | None = None,
    deliveries_only: bool = False,
    token: str | None = None,
) -> list[RejectionDetail]:
    """`rejections` with each one's headers and kept body (`pilot-desktop rejections --json`)."""
    where = "received_at >= ?" + (" AND delivery = 1" if deliveries_only else "")
    q = f"SELECT {_REJECTION_COLS}, headers, body FROM rejections WHERE {where} ORDER BY id DESC LIMIT ?"
    rows = conn.execute(q, (since if since is not None else 0.0, limit))
    return [_rejection_detail(r, token) for r in rows]


def _rejection_detail(r: Any, token: str | None) -> RejectionDetail:
    try:
        headers = [(str(k), shown_text(str(v), token)) for k, v in json.loads(r[12])]
    except (ValueError, TypeError):
        headers = []
    return RejectionDetail(_rejection(r[:12], token), headers, bytes(r[13] or b""))


def rejection_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM rejections").fetchone()[0])


def gaps(conn: sqlite3.Connection, since: float | None = None, limit: int = 1000) -> list[Gap]:
    """Gaps that ended after `since` (or are still open), oldest first."""
    rows = conn.execute(
        "SELECT id, kind, started_at, ended_at, reason, caught_up_at, catch_up FROM gaps "
        "WHERE ended_at IS NULL OR ended_at >= ? ORDER BY started_at, id LIMIT ?",
        (since if since is not None else 0.0, limit),
    ).fetchall()
    out = []
    for ident, kind, start, end, reason, caught, summary in rows:
        parsed = None
        if summary:
            with contextlib.suppress(ValueError):
                parsed = json.loads(summary)
        out.append(Gap(ident, kind, start, end, reason, caught, parsed if isinstance(parsed, dict) else None))
    return out


def heartbeat(conn: sqlite3.Connection) -> HeartbeatRow | None:
    r = conn.execute(
        "SELECT run_started_at, alive_at, stopped_at, pid FROM heartbeat WHERE id = 1"
    ).fetchone()
    return HeartbeatRow(*r) if r else None


def database_size(path: Path) -> int:
    """Bytes on disk, the WAL included (it can be large between checkpoints)."""
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total
