"""A message's timeline: its steps with event and arrival times, replies, failure, hints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from pilot_desktop.core.lifecycle import DELIVERED, FAILED, RANK, READ, SENT, error_meaning
from pilot_desktop.store.message_queries import COLS, chunks, get_message, with_replies
from pilot_desktop.store.read_models import READ_RECEIPTS_HINT_AFTER, MessageRow, Step, Timeline


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
        Step(event_id, event, status, at, event_time, received, last, deliveries, bool(late), bytes(body))
        for event_id, event, status, at, event_time, received, last, deliveries, late, body in conn.execute(
            "SELECT s.event_id, e.event, s.status, s.at, e.event_time, e.received_at, e.last_received_at, "
            "e.deliveries, s.late, e.body FROM message_steps s JOIN events e ON e.id = s.event_id "
            "WHERE s.message = ?",
            (message,),
        )
    ]
    steps.sort(key=lambda s: (s.at if s.at is not None else s.received_at, s.received_at, s.event_id))
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
    return Timeline(
        message=row,
        steps=steps,
        replies=replies,
        reply_to=reply_to,
        error_meaning=meaning,
        error_documented=documented,
        pending=_pending(row),
        hints=hints,
    )


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
