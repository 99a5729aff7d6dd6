"""Read side of the message projection: pages, search by any id, timelines, stuck, funnel.

Every query is one index range (see schema._V2): pages are keyset-paged by id, newest
first, never OFFSET. bench/messages.py measures them on 1,000,000 messages.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pilot_desktop.core.lifecycle import (
    DELIVERED,
    FAILED,
    QUEUED,
    RANK,
    READ,
    SENT,
    error_meaning,
    latency,
    percentile,
)

_COLS = (
    "id, outbound, status, status_at, msg_id, correlation_id, provider_id, quoted_id, reply_to, "
    "number_id, peer, kind, text, first_at, first_received_at, sent_at, delivered_at, read_at, "
    "failed_at, error, error_code, steps, late"
)


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One line of the Messages table."""

    id: int
    outbound: bool
    status: str
    status_at: float
    msg_id: str | None
    correlation_id: str | None
    provider_id: str | None
    quoted_id: str | None
    reply_to: int | None
    number_id: str | None
    peer: str | None
    kind: str | None
    text: str | None
    first_at: float
    first_received_at: float
    sent_at: float | None
    delivered_at: float | None
    read_at: float | None
    failed_at: float | None
    error: str | None
    error_code: str | None
    steps: int
    late: int
    replies: int = 0

    @property
    def to_delivered(self) -> float | None:
        return latency(self.sent_at, self.delivered_at)

    @property
    def to_read(self) -> float | None:
        return latency(self.delivered_at, self.read_at)


def _message(r: tuple[Any, ...], replies: int = 0) -> MessageRow:
    make: Any = MessageRow  # the column list above matches the fields one to one
    return make(r[0], bool(r[1]), *r[2:], replies)


@dataclass(frozen=True, slots=True)
class StuckRules:
    """A message is stuck when it sits QUEUED (never sent) or SENT (never delivered)
    longer than these deadlines. Seconds; settings hold them in minutes."""

    queued_after: float = 15 * 60
    sent_after: float = 10 * 60

    def where(self, now: float) -> tuple[str, list[object]]:
        return (
            "((status = ? AND status_at < ?) OR (status = ? AND status_at < ?))",
            [QUEUED, now - self.queued_after, SENT, now - self.sent_after],
        )


# Delivered this long ago and never read: the contact's read receipts may be off.
READ_RECEIPTS_HINT_AFTER = 60 * 60


@dataclass(frozen=True, slots=True)
class MessageFilter:
    statuses: frozenset[str] = frozenset()
    number_id: str | None = None
    since: float | None = None  # first event time, unix seconds
    until: float | None = None
    stuck: StuckRules | None = None  # only stuck messages, by these deadlines
    now: float = 0.0  # the clock `stuck` is measured against
    outbound: bool | None = None

    def where(self, conn: sqlite3.Connection | None = None) -> tuple[str, list[object]]:
        """With `conn`, a time range also bounds the ids scanned (see `first_id_since`)."""
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None and conn is not None:
            clauses.append("id >= ?")
            params.append(first_id_since(conn, self.since))
        if self.statuses:
            clauses.append(f"status IN ({','.join('?' * len(self.statuses))})")
            params.extend(sorted(self.statuses))
        if self.number_id is not None:
            clauses.append("number_id = ?")
            params.append(self.number_id)
        if self.since is not None:
            clauses.append("first_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("first_at < ?")
            params.append(self.until)
        if self.outbound is not None:
            clauses.append("outbound = ?")
            params.append(int(self.outbound))
        if self.stuck is not None:
            sql, more = self.stuck.where(self.now)
            clauses.append(sql)
            params.extend(more)
        return (" AND ".join(clauses) or "1"), params


# A message arrives after its first event happened, so its arrival time bounds its event
# time from above: a time filter can start at the first message that *arrived* after
# `since`. The slack covers the platform's clock running ahead of ours and ids being
# handed out a little out of arrival order.
ARRIVAL_SLACK_S = 10 * 60


def first_id_since(conn: sqlite3.Connection, since: float) -> int:
    """The smallest message id that can have `first_at >= since`, found by bisecting the
    ids on their arrival time (ids are handed out in arrival order, and nothing arrives
    before it happened): a time range is then an id range, with no index on the times to
    keep up on every insert."""
    lo, hi = conn.execute("SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM messages").fetchone()
    cutoff = since - ARRIVAL_SLACK_S
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            "SELECT id, first_received_at FROM messages WHERE id >= ? ORDER BY id LIMIT 1", (mid,)
        ).fetchone()
        if row is None or row[1] >= cutoff:
            hi = mid
        else:
            lo = row[0] + 1
    return int(lo)


def _with_replies(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[MessageRow]:
    ids = [r[0] for r in rows]
    counts: dict[int, int] = {}
    if ids:
        q = (
            f"SELECT reply_to, count(*) FROM messages WHERE reply_to IN ({','.join('?' * len(ids))}) "
            "GROUP BY reply_to"
        )
        counts = dict(conn.execute(q, ids).fetchall())
    return [_message(r, counts.get(r[0], 0)) for r in rows]


def messages_page(
    conn: sqlite3.Connection, flt: MessageFilter, limit: int = 100, before_id: int | None = None
) -> list[MessageRow]:
    """Newest first (by first arrival), keyset paged with `before_id`."""
    where, params = flt.where(conn)
    if before_id is not None:
        where += " AND id < ?"
        params.append(before_id)
    rows = conn.execute(
        f"SELECT {_COLS} FROM messages WHERE {where} ORDER BY id DESC LIMIT ?", [*params, limit]
    )
    return _with_replies(conn, rows.fetchall())


def count_messages(conn: sqlite3.Connection, flt: MessageFilter, cap: int = 100_000) -> int:
    """How many match, counted up to `cap` (the pane says "100,000+")."""
    where, params = flt.where(conn)
    q = f"SELECT count(*) FROM (SELECT 1 FROM messages WHERE {where} LIMIT ?)"
    return int(conn.execute(q, [*params, cap]).fetchone()[0])


def get_message(conn: sqlite3.Connection, message: int) -> MessageRow | None:
    rows = conn.execute(f"SELECT {_COLS} FROM messages WHERE id = ?", (message,)).fetchall()
    found = _with_replies(conn, rows)
    return found[0] if found else None


_DIGITS = re.compile(r"[^\d]")


def _phone_forms(text: str) -> list[str]:
    """'+55 11 9999-0000', '5511...', '(11) ...' -> the stored E.164 and bare-digit forms."""
    digits = _DIGITS.sub("", text)
    if len(digits) < 6 or len(digits) > 16:
        return []
    return [f"+{digits}", digits]


def search(conn: sqlite3.Connection, text: str, limit: int = 100) -> list[MessageRow]:
    """Messages matching any of their ids (internal, correlationId, provider messageId,
    a reply's quoted id), the number of a stored event (`#123`), or a contact's phone."""
    text = text.strip()
    if not text:
        return []
    found: dict[int, tuple[Any, ...]] = {}
    for column in ("msg_id", "correlation_id", "provider_id", "quoted_id"):
        for r in conn.execute(f"SELECT {_COLS} FROM messages WHERE {column} = ? LIMIT ?", (text, limit)):
            found.setdefault(r[0], r)
    event_id = text.lstrip("#")
    if event_id.isdigit() and len(event_id) < 19:
        r = conn.execute(
            f"SELECT {_COLS} FROM messages WHERE id = (SELECT message FROM message_steps WHERE event_id = ?)",
            (int(event_id),),
        ).fetchone()
        if r is not None:
            found.setdefault(r[0], r)
    for form in _phone_forms(text):
        for r in conn.execute(
            f"SELECT {_COLS} FROM messages WHERE peer = ? ORDER BY id DESC LIMIT ?", (form, limit)
        ):
            found.setdefault(r[0], r)
    rows = sorted(found.values(), key=lambda r: -r[0])[:limit]
    return _with_replies(conn, rows)


def message_of_event(conn: sqlite3.Connection, event_id: int) -> int | None:
    r = conn.execute("SELECT message FROM message_steps WHERE event_id = ?", (event_id,)).fetchone()
    return int(r[0]) if r else None


def resolve(conn: sqlite3.Connection, text: str) -> tuple[int, str] | None:
    """The message `text` names, and how: an id of the message itself first (internal,
    provider, then correlationId, where the send outranks the replies that carry it too),
    then a stored event (`#123`), a reply quoting it, and last a contact's phone, whose
    newest message wins. None when nothing matches."""
    number = text.lstrip("#")
    event_message = message_of_event(conn, int(number)) if number.isdigit() and len(number) < 19 else None
    explicit_event = text.startswith("#")
    best: tuple[tuple[int, int], int, str] | None = None
    for r in search(conn, text, limit=100):
        if r.msg_id == text:
            rank, how = 0, "id"
        elif r.provider_id == text:
            rank, how = 1, "messageId"
        elif r.correlation_id == text:
            rank, how = (2 if r.outbound else 3), "correlationId"
        elif r.id == event_message:
            rank, how = (0 if explicit_event else 4), "event"
        elif r.quoted_id == text:
            rank, how = 5, "quotedMessageId"
        else:
            rank, how = 6, "phone"
        if best is None or (rank, -r.id) < best[0]:
            best = ((rank, -r.id), r.id, how)
    return None if best is None else (best[1], best[2])


def find_message(conn: sqlite3.Connection, text: str) -> int | None:
    """The message `text` names, ranked as `resolve` does."""
    found = resolve(conn, text)
    return None if found is None else found[0]


@dataclass(frozen=True, slots=True)
class Step:
    event_id: int
    event: str
    status: str
    at: float | None  # event time
    event_time: str | None  # as the platform wrote it
    received_at: float  # first arrival
    last_received_at: float
    deliveries: int
    late: bool
    body: bytes

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Timeline:
    message: MessageRow
    steps: list[Step]  # by event time, then arrival
    replies: list[MessageRow] = field(default_factory=list)
    reply_to: MessageRow | None = None
    error_meaning: str | None = None
    error_documented: bool = True
    pending: list[str] = field(default_factory=list)  # statuses not reached yet, in order
    hints: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(s.deliveries - 1 for s in self.steps)


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
    replies = _with_replies(
        conn,
        conn.execute(f"SELECT {_COLS} FROM messages WHERE reply_to = ? ORDER BY id", (message,)).fetchall(),
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


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timeline_json(t: Timeline) -> dict[str, Any]:
    """The CLI's `timeline --json` document (issue 5 lists the required keys)."""
    m = t.message
    return {
        "id": m.msg_id,
        "correlationId": m.correlation_id,
        "messageId": m.provider_id,
        "direction": "outbound" if m.outbound else "inbound",
        "status": m.status,
        "numberId": m.number_id,
        "contact": m.peer,
        "type": m.kind,
        "text": m.text,
        "sentToDeliveredSeconds": m.to_delivered,
        "deliveredToReadSeconds": m.to_read,
        "steps": [
            {
                "event": s.event,
                "status": s.status,
                "createdAt": s.event_time,
                "receivedAt": _iso(s.received_at),
                "late": s.late,
                "deliveries": s.deliveries,
                "eventId": s.event_id,
            }
            for s in t.steps
        ],
        "pending": t.pending,
        "duplicates": t.duplicates,
        "error": None
        if m.error is None and m.status != FAILED
        else {
            "error": m.error,
            "errorCode": m.error_code,
            "meaning": t.error_meaning,
            "documented": t.error_documented,
        },
        "replyTo": t.reply_to.msg_id if t.reply_to else None,
        "replies": [
            {
                "id": r.msg_id,
                "messageId": r.provider_id,
                "from": r.peer,
                "createdAt": _iso(r.first_at),
                "text": r.text,
            }
            for r in t.replies
        ],
        "hints": t.hints,
    }


def stuck_count(conn: sqlite3.Connection, rules: StuckRules, now: float, cap: int = 100_000) -> int:
    return count_messages(conn, MessageFilter(stuck=rules, now=now), cap)


@dataclass(frozen=True, slots=True)
class Funnel:
    """Outbound messages first seen in a period: how far they got, and how fast."""

    total: int
    sent: int
    delivered: int
    read: int
    failed: int
    to_delivered: list[float]  # seconds, for the charts
    to_read: list[float]

    def rate(self, n: int) -> float | None:
        """Share of all the period's outbound messages."""
        return n / self.total if self.total else None

    def median(self, values: list[float]) -> float | None:
        return percentile(values, 50)

    def p90(self, values: list[float]) -> float | None:
        return percentile(values, 90)


def funnel(conn: sqlite3.Connection, number_id: str | None, since: float, until: float) -> Funnel:
    """Counts by the furthest step reached (a READ counts as sent and delivered too)."""
    where = "outbound = 1 AND id >= ? AND first_at >= ? AND first_at < ?"
    params: list[object] = [first_id_since(conn, since), since, until]
    if number_id is not None:
        where += " AND number_id = ?"
        params.append(number_id)
    total = sent = delivered = read = failed = 0
    to_delivered: list[float] = []
    to_read: list[float] = []
    for status, sent_at, delivered_at, read_at in conn.execute(
        f"SELECT status, sent_at, delivered_at, read_at FROM messages WHERE {where}", params
    ):
        total += 1
        sent += sent_at is not None or delivered_at is not None or read_at is not None
        delivered += delivered_at is not None or read_at is not None
        read += read_at is not None
        failed += status == FAILED
        if (d := latency(sent_at, delivered_at)) is not None:
            to_delivered.append(d)
        if (r := latency(delivered_at, read_at)) is not None:
            to_read.append(r)
    return Funnel(total, sent, delivered, read, failed, to_delivered, to_read)


# -- Helpers of the Messages pane and its timeline (ui/panes/messages) ---------------------

_CHUNK = 500  # ids per IN (...): well under SQLite's variable limit


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    items = list(ids)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def messages_by_ids(
    conn: sqlite3.Connection, ids: Iterable[int], flt: MessageFilter | None = None
) -> list[MessageRow]:
    """These messages (only those `flt` matches, when given), newest first. Primary-key
    lookups: what a live view re-reads after a change descriptor."""
    where, params = flt.where(conn) if flt is not None else ("1", [])
    rows: list[tuple[Any, ...]] = []
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        rows += conn.execute(
            f"SELECT {_COLS} FROM messages WHERE id IN ({marks}) AND {where}", [*part, *params]
        ).fetchall()
    rows.sort(key=lambda r: -r[0])
    return _with_replies(conn, rows)


def duplicate_counts(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, int]:
    """Retries received for each message's steps (deliveries beyond the first); messages
    without any are left out."""
    found: dict[int, int] = {}
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        found.update(
            conn.execute(
                "SELECT s.message, sum(e.deliveries - 1) FROM message_steps s "
                f"JOIN events e ON e.id = s.event_id WHERE s.message IN ({marks}) "
                "GROUP BY s.message HAVING sum(e.deliveries - 1) > 0",
                part,
            ).fetchall()
        )
    return found


def messages_of_events(conn: sqlite3.Connection, event_ids: Iterable[int]) -> set[int]:
    """The messages these stored events are steps of (a redelivery names only its event)."""
    found: set[int] = set()
    for part in _chunks(event_ids):
        marks = ",".join("?" * len(part))
        found.update(
            r[0] for r in conn.execute(f"SELECT message FROM message_steps WHERE event_id IN ({marks})", part)
        )
    return found


def message_numbers(conn: sqlite3.Connection) -> list[str]:
    """The distinct number ids of the messages, sorted: one index seek per number."""
    rows = conn.execute(
        "WITH RECURSIVE n(x) AS (SELECT min(number_id) FROM messages "
        "UNION ALL SELECT (SELECT min(number_id) FROM messages WHERE number_id > x) FROM n "
        "WHERE x IS NOT NULL) SELECT x FROM n WHERE x IS NOT NULL"
    )
    return [r[0] for r in rows]


def timeline_touched(conn: sqlite3.Connection, message: int, changed: Iterable[int]) -> bool:
    """Whether a change to `changed` alters `message`'s timeline: the message itself, a
    reply to it (a new reply names only itself), or the message it answers (an original
    arriving after its reply links the reply without naming it)."""
    for part in _chunks(changed):
        marks = ",".join("?" * len(part))
        hit = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM messages WHERE id IN ({marks}) AND (id = ? OR reply_to = ?)) "
            f"OR EXISTS (SELECT 1 FROM messages WHERE id = ? AND reply_to IN ({marks}))",
            [*part, message, message, message, *part],
        ).fetchone()[0]
        if hit:
            return True
    return False
