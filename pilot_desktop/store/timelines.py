"""A message's timeline: its steps with event and arrival times, replies, failure, hints,
the gaps over its span and which steps were reconstructed from the API."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from pilot_desktop.core.format import parse_time
from pilot_desktop.core.lifecycle import DELIVERED, FAILED, RANK, READ, SENT, error_meaning
from pilot_desktop.store import queries
from pilot_desktop.store.message_queries import COLS, chunks, get_message, with_replies
from pilot_desktop.store.read_models import (
    READ_RECEIPTS_HINT_AFTER,
    MessageRow,
    Reconstruction,
    Step,
    Timeline,
)
from pilot_desktop.store.records import Gap

RECONSTRUCTED = "reconstructed"  # core/signature.py's Verdict status of a step read back from the API


def _pending(row: MessageRow) -> list[str]:
    if not row.outbound or row.status in (FAILED, "CANCELED"):
        return []
    reached = {SENT: row.sent_at, DELIVERED: row.delivered_at, READ: row.read_at}
    return [s for s, at in reached.items() if at is None and RANK[s] > RANK[row.status]]


def timeline(conn: sqlite3.Connection, message: int, now: float) -> Timeline | None:
    row = get_message(conn, message)
    if row is None:
        return None
    steps = [
        _step(r)
        for r in conn.execute(
            "SELECT s.event_id, e.event, s.status, s.at, e.event_time, e.received_at, e.last_received_at, "
            "e.deliveries, s.late, e.body, e.signature "
            "FROM message_steps s JOIN events e ON e.id = s.event_id WHERE s.message = ?",
            (message,),
        )
    ]
    steps.sort(key=lambda s: (s.at if s.at is not None else s.received_at, s.received_at, s.event_id))
    # A status both delivered by its webhook and read back from the API shows once: the webhook.
    delivered = {s.status for s in steps if s.reconstructed is None}
    superseded = [s for s in steps if s.reconstructed is not None and s.status in delivered]
    steps = [s for s in steps if s not in superseded]
    replies = with_replies(
        conn,
        conn.execute(f"SELECT {COLS} FROM messages WHERE reply_to = ? ORDER BY id", (message,)).fetchall(),
    )
    reply_to = get_message(conn, row.reply_to) if row.reply_to is not None else None
    meaning, documented = (None, True)
    if row.status == FAILED or row.error is not None:
        meaning, documented = error_meaning(row.error_code)
    hints: list[str] = []
    if (
        row.status == DELIVERED
        and row.delivered_at is not None
        and now - row.delivered_at > READ_RECEIPTS_HINT_AFTER
    ):
        hints.append("Delivered over an hour ago and not read: the contact's read receipts may be off.")
    if row.status == FAILED and (row.delivered_at or row.read_at):
        hints.append(
            "A delivery or read confirmation was also reported: on multi-device accounts it can "
            "arrive after a failure. The status stays failed."
        )
    if row.error_code == "DELIVERED_NOT_CONFIRMED":
        hints.append("Failed only because the confirmation did not come in time; the message was sent.")
    if superseded:
        names = ", ".join(sorted({s.status.lower() for s in superseded}))
        hints.append(f"Reconstructed from the API, then delivered by its webhook ({names}): shown once.")
    pending = _pending(row)
    return Timeline(
        message=row,
        steps=steps,
        replies=replies,
        reply_to=reply_to,
        error_meaning=meaning,
        error_documented=documented,
        pending=pending,
        hints=hints,
        gaps=_gaps(conn, row, steps, now, bool(pending)),
        superseded=superseded,
        pii_mode=_pii_mode(conn, row.number_id),
    )


def _step(r: tuple[Any, ...]) -> Step:
    """One row of the query above: the step, its mark when it was read back from the API."""
    body, signature = bytes(r[9]), r[10]
    mark = reconstruction(body) if signature == RECONSTRUCTED else None
    make: Any = Step  # the first eight columns match its fields one to one
    step: Step = make(*r[:8], bool(r[8]), body, signature, mark)
    return step


def reconstruction(body: bytes) -> Reconstruction:
    """The body's top-level `reconstructed: {source, at}` (services/catch_up.py writes it)."""
    try:
        mark = json.loads(body).get("reconstructed")
    except (ValueError, AttributeError):
        mark = None
    if not isinstance(mark, dict):
        return Reconstruction("the API", None)
    source, at = mark.get("source"), mark.get("at")
    if isinstance(at, int | float) and not isinstance(at, bool):
        return Reconstruction(str(source or "the API"), float(at), "")
    text = at if isinstance(at, str) else ""
    return Reconstruction(str(source or "the API"), parse_time(text), text)


def _gaps(conn: sqlite3.Connection, row: MessageRow, steps: list[Step], now: float, open_: bool) -> list[Gap]:
    """The gaps over the message's span: from its first event to its last step, or to now
    while steps are pending (a gap then may be why they have not come)."""
    times = [row.first_at, *(s.at if s.at is not None else s.received_at for s in steps)]
    start, end = min(times), (now if open_ else max(times))
    return [g for g in queries.gaps(conn, since=start, limit=50) if g.started_at <= end]


def _pii_mode(conn: sqlite3.Connection, number_id: str | None) -> str | None:
    if number_id is None:
        return None
    r = conn.execute("SELECT pii_mode FROM number_state WHERE number_id = ?", (number_id,)).fetchone()
    return r[0] if r else None


def timeline_touched(conn: sqlite3.Connection, message: int, changed: Iterable[int]) -> bool:
    """Whether a change to `changed` alters `message`'s timeline: the message itself, a
    reply to it (a new reply names only itself), or the message it answers (an original
    arriving after its reply links the reply without naming it)."""
    for part in chunks(changed):
        marks = ",".join("?" * len(part))
        hit = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM messages WHERE id IN ({marks}) AND (id = ? OR reply_to = ?)) "
            f"OR EXISTS (SELECT 1 FROM messages WHERE id = ? AND reply_to IN ({marks}))",
            [*part, message, message, message, *part],
        ).fetchone()[0]
        if hit:
            return True
    return False
