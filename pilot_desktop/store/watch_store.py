"""Writing and reading the watch records (store/watch_records.py): the writer's side in
`write_watch`, the read side in the query functions (Reads exposes them)."""

from __future__ import annotations

import contextlib
import json
import sqlite3

from pilot_desktop.store.records import clean_text
from pilot_desktop.store.watch_records import (
    DriftMark,
    DriftRow,
    ProbeMark,
    ProbeRow,
    TunnelMark,
    TunnelRow,
    UrlMark,
    UrlRow,
    WatchItem,
)

PROBES_KEPT = 20_000  # a probe a minute: two weeks of history
_TUNNEL = """
INSERT INTO tunnel (id, at, mode, public_url, state, pid, since, error, output)
VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET at = excluded.at, mode = excluded.mode,
    public_url = excluded.public_url, state = excluded.state, pid = excluded.pid,
    since = excluded.since, error = excluded.error, output = excluded.output
"""


def write_watch(conn: sqlite3.Connection, item: WatchItem) -> int | None:
    """Inside the writer's transaction. Returns the new row's id (a drift finding: the open
    finding's id when one with the same key is already open), else None."""
    if isinstance(item, ProbeMark):
        cur = conn.execute(
            "INSERT INTO probes (at, public_url, ok, latency_ms, diagnosis, sentence, status, trigger) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.at,
                clean_text(item.public_url),
                int(item.ok),
                item.latency_ms,
                item.diagnosis,
                clean_text(item.sentence),
                item.status,
                item.trigger,
            ),
        )
        ident = int(cur.lastrowid or 0)
        if ident % 500 == 0:
            conn.execute("DELETE FROM probes WHERE id <= ?", (ident - PROBES_KEPT,))
        return ident
    if isinstance(item, TunnelMark):
        output = json.dumps([clean_text(line) for line in item.output])
        conn.execute(
            _TUNNEL,
            (
                item.at,
                item.mode,
                clean_text(item.public_url),
                item.state,
                item.pid,
                item.since,
                clean_text(item.error),
                output,
            ),
        )
        return None
    if isinstance(item, UrlMark):
        cur = conn.execute(
            "INSERT INTO public_urls (at, kind, public_url, source, webhook_id, number_id, old_url, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.at,
                item.kind,
                clean_text(item.public_url),
                item.source,
                clean_text(item.webhook_id),
                clean_text(item.number_id),
                clean_text(item.old_url),
                clean_text(item.detail),
            ),
        )
        return int(cur.lastrowid or 0)
    return _drift(conn, item)


def _drift(conn: sqlite3.Connection, m: DriftMark) -> int | None:
    if m.finding_id is not None:
        if m.resolved_at is not None:
            conn.execute(
                "UPDATE drift SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
                (m.resolved_at, m.finding_id),
            )
        return m.finding_id
    row = conn.execute("SELECT id FROM drift WHERE key = ? AND resolved_at IS NULL", (m.key,)).fetchone()
    if row is not None:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO drift (found_at, kind, key, webhook_id, number_id, sentence, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            m.found_at,
            m.kind,
            clean_text(m.key),
            clean_text(m.webhook_id),
            clean_text(m.number_id),
            clean_text(m.sentence),
            clean_text(m.detail),
        ),
    )
    return int(cur.lastrowid or 0)


# -- reads ------------------------------------------------------------------------------------


def probes(conn: sqlite3.Connection, limit: int = 100, since: float | None = None) -> list[ProbeRow]:
    """The newest probes first."""
    rows = conn.execute(
        "SELECT id, at, public_url, ok, latency_ms, diagnosis, sentence, status, trigger FROM probes "
        "WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
        (since if since is not None else 0.0, limit),
    ).fetchall()
    return [ProbeRow(i, at, url, bool(ok), ms, d, s, st, t) for i, at, url, ok, ms, d, s, st, t in rows]


def tunnel(conn: sqlite3.Connection) -> TunnelRow | None:
    r = conn.execute("SELECT at, mode, public_url, state, pid, since, error, output FROM tunnel").fetchone()
    if r is None:
        return None
    output: list[str] = []
    with contextlib.suppress(ValueError, TypeError):
        parsed = json.loads(r[7])
        output = [str(line) for line in parsed] if isinstance(parsed, list) else []
    at, mode, public_url, state, pid, since, error = r[:7]
    return TunnelRow(at, mode, public_url, state, pid, since, error, output)


def url_history(conn: sqlite3.Connection, limit: int = 200) -> list[UrlRow]:
    """The newest first."""
    rows = conn.execute(
        "SELECT id, at, kind, public_url, source, webhook_id, number_id, old_url, detail FROM public_urls "
        "ORDER BY at DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [UrlRow(*r) for r in rows]


def drift(conn: sqlite3.Connection, *, open_only: bool = False, limit: int = 500) -> list[DriftRow]:
    """Findings, the newest first; `open_only`: those not resolved."""
    where = "WHERE resolved_at IS NULL " if open_only else ""
    rows = conn.execute(
        "SELECT id, found_at, kind, key, webhook_id, number_id, sentence, detail, resolved_at FROM drift "
        f"{where}ORDER BY found_at DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    out = []
    for ident, found, kind, key, hook, number, sentence, detail, resolved in rows:
        parsed = None
        if detail:
            with contextlib.suppress(ValueError):
                parsed = json.loads(detail)
        out.append(
            DriftRow(
                ident,
                found,
                kind,
                key,
                hook,
                number,
                sentence,
                parsed if isinstance(parsed, dict) else None,
                resolved,
            )
        )
    return out
