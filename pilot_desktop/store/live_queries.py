"""The Live list's refusals and gaps: where each sits among the events, without their times.

The Live pane holds the events as a compact array of ids (ui/panes/live/model.py). A
refusal or a gap is placed by a `Mark`: the id of the first event received at or after it,
found with one probe of the `events_received` index, so placing the 10,000 refusals kept
costs 10,000 probes, never a read of every event's time. The mark does not depend on the
events' filter, so a new filter only bisects. Events read back from the API after a gap
(signature "reconstructed") are stored late with times inside the gap: they never anchor.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable

from pilot_desktop.store import queries
from pilot_desktop.store.read_models import EventFilter, IdList, LiveSnapshot, Mark
from pilot_desktop.store.records import Gap, RejectionRow

REFUSALS_SHOWN = 10_000  # the rejections table keeps as many (store/schema.py REJECTIONS_KEPT)

_ANCHOR = (
    "coalesce((SELECT e.id FROM events e WHERE e.received_at >= {t} AND e.signature != 'reconstructed'"
    " ORDER BY e.received_at, e.id LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM events))"
)


def refusal_marks(
    conn: sqlite3.Connection, after_id: int = 0, number_id: str | None = None, limit: int = REFUSALS_SHOWN
) -> list[Mark]:
    """The newest `limit` refused deliveries with an id above `after_id` (of `number_id`
    only, when given), oldest first, placed among the events."""
    where = ["r.delivery = 1", "r.id > ?"]
    args: list[object] = [after_id]
    if number_id is not None:
        where.append("r.number_id = ?")
        args.append(number_id)
    rows = conn.execute(
        f"SELECT r.id, r.received_at, {_ANCHOR.format(t='r.received_at')} FROM rejections r"
        f" WHERE {' AND '.join(where)} ORDER BY r.id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    return sorted(Mark(int(anchor), float(at), "refusal", int(ident)) for ident, at, anchor in rows)


def gap_marks(conn: sqlite3.Connection, limit: int = 1000) -> list[tuple[Mark, Gap]]:
    """Every gap (the newest `limit`), placed at its start among the events."""
    gaps = queries.gaps(conn, None, limit)
    out = []
    for gap in gaps:
        (anchor,) = conn.execute(f"SELECT {_ANCHOR.format(t='?')}", (gap.started_at,)).fetchone()
        out.append((Mark(int(anchor), gap.started_at, "gap", gap.id), gap))
    return sorted(out, key=lambda pair: pair[0])


def snapshot(
    conn: sqlite3.Connection, flt: EventFilter, *, events: bool = True, refusals: bool = True
) -> LiveSnapshot:
    """The events matching `flt`, the refused deliveries (of its number, when it names
    one) and the gaps, in one read transaction: an event committed meanwhile is in all or
    in none, so the pane's live tail continues exactly where this ends."""
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    try:
        ids: IdList = queries.event_ids(conn, flt) if events else array("q")
        marks = refusal_marks(conn, 0, flt.number_id) if refusals else []
        return LiveSnapshot(ids, marks, gap_marks(conn))
    finally:
        if began:
            conn.execute("COMMIT")


def rejections_by_ids(
    conn: sqlite3.Connection, ids: Iterable[int], token: str | None = None
) -> dict[int, RejectionRow]:
    """The rows of these refusals (those still kept: the oldest are trimmed); `token`, this
    receiver's, is shown `<token>` in their paths."""
    wanted = sorted(set(ids))
    found: dict[int, RejectionRow] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        q = f"SELECT {queries.REJECTION_COLS} FROM rejections WHERE id IN ({','.join('?' * len(part))})"
        found.update((r.id, r) for r in (queries.rejection_row(row, token) for row in conn.execute(q, part)))
    return found


def refusal_count(conn: sqlite3.Connection, since: float, deliveries_only: bool = True) -> int:
    """How many requests were refused since `since` (one index range)."""
    q = "SELECT count(*) FROM rejections WHERE received_at >= ?" + (
        " AND delivery = 1" if deliveries_only else ""
    )
    return int(conn.execute(q, (since,)).fetchone()[0])
