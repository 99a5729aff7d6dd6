"""Read side of the message projection: pages, search by any id, stuck counts.

Timelines are in timelines.py, the Delivery tab's figures in funnel_queries.py. Every query
is one index range (see schema._V2): pages are keyset-paged by id, newest first, never
OFFSET. bench/messages.py measures them on 1,000,000 messages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from pilot_desktop.core.phones import phone_forms
from pilot_desktop.store.message_extras import Extras, contact_names, extras
from pilot_desktop.store.read_models import MessageChanges, MessageFilter, MessagePage, MessageRow, StuckRules

COLS = (
    "id, outbound, status, status_at, msg_id, correlation_id, provider_id, quoted_id, reply_to, "
    "number_id, peer, kind, text, first_at, first_received_at, sent_at, delivered_at, read_at, "
    "failed_at, error, error_code, steps, late"
)


def _message(r: tuple[Any, ...], replies: int = 0, more: Extras | None = None) -> MessageRow:
    make: Any = MessageRow  # the column list above matches the fields one to one
    row: MessageRow = make(r[0], bool(r[1]), *r[2:], replies)
    if more is not None:
        row = replace(row, name=more.name, chat=more.chat, chat_name=more.chat_name, issues=more.issues)
    return row


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


def with_replies(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[MessageRow]:
    """Rows as records, with their reply counts and what their events carried (extras)."""
    ids = [r[0] for r in rows]
    counts: dict[int, int] = {}
    if ids:
        q = (
            f"SELECT reply_to, count(*) FROM messages WHERE reply_to IN ({','.join('?' * len(ids))}) "
            "GROUP BY reply_to"
        )
        counts = dict(conn.execute(q, ids).fetchall())
    more = extras(conn, ids, {r[0]: r[10] for r in rows}) if ids else {}
    return [_message(r, counts.get(r[0], 0), more.get(r[0])) for r in rows]


def where(conn: sqlite3.Connection, flt: MessageFilter) -> tuple[str, list[object]]:
    """The filter's SQL; a time range also bounds the ids scanned."""
    return flt.where(first_id_since(conn, flt.since) if flt.since is not None else None)


def messages_page(
    conn: sqlite3.Connection, flt: MessageFilter, limit: int = 100, before_id: int | None = None
) -> list[MessageRow]:
    """Newest first (by first arrival), keyset paged with `before_id`."""
    where_sql, params = where(conn, flt)
    if before_id is not None:
        where_sql += " AND id < ?"
        params.append(before_id)
    rows = conn.execute(
        f"SELECT {COLS} FROM messages WHERE {where_sql} ORDER BY id DESC LIMIT ?", [*params, limit]
    )
    return with_replies(conn, rows.fetchall())


def count_messages(conn: sqlite3.Connection, flt: MessageFilter, cap: int = 100_000) -> int:
    """How many match, counted up to `cap` (the pane says "100,000+")."""
    where_sql, params = where(conn, flt)
    q = f"SELECT count(*) FROM (SELECT 1 FROM messages WHERE {where_sql} LIMIT ?)"
    return int(conn.execute(q, [*params, cap]).fetchone()[0])


def get_message(conn: sqlite3.Connection, message: int) -> MessageRow | None:
    rows = conn.execute(f"SELECT {COLS} FROM messages WHERE id = ?", (message,)).fetchall()
    found = with_replies(conn, rows)
    return found[0] if found else None


def event_number(text: str) -> int | None:
    """The stored event `text` names: only "#123" (a bare "123" is never an event number)."""
    text = text.strip()
    number = text[1:]
    if text.startswith("#") and number.isdigit() and len(number) < 19:
        return int(number)
    return None


_PREFIXED_ULID = re.compile(r"^([A-Za-z]+)_([0-9A-Za-z]{26})$")


def id_forms(text: str) -> list[str]:
    """`text`, then its canonical ULID form when it is a prefixed ULID typed in another case
    ("msg_01m91…" → "msg_01M91…": ULIDs are case-insensitive, stored upper case). Each
    form is one indexed lookup; the text as typed is tried first."""
    m = _PREFIXED_ULID.match(text)
    canonical = f"{m.group(1).lower()}_{m.group(2).upper()}" if m else text
    return [text] if canonical == text else [text, canonical]


def search(
    conn: sqlite3.Connection, text: str, limit: int = 100, regions: Sequence[str] = ()
) -> list[MessageRow]:
    """Messages matching any of their ids (internal, correlationId, provider messageId,
    a reply's quoted id), the number of a stored event written "#123", or a contact's phone
    when `text` is phone-like (core/phones.phone_forms: a national format is read in each
    of `regions`, the countries of the account's numbers). See `resolve` for the rule."""
    text = text.strip()
    if not text:
        return []
    found: dict[int, tuple[Any, ...]] = {}
    event = event_number(text)
    if event is not None:
        r = conn.execute(
            f"SELECT {COLS} FROM messages WHERE id = (SELECT message FROM message_steps WHERE event_id = ?)",
            (event,),
        ).fetchone()
        return with_replies(conn, [r] if r is not None else [])
    for column in ("msg_id", "correlation_id", "provider_id", "quoted_id"):
        for value in id_forms(text):
            for r in conn.execute(f"SELECT {COLS} FROM messages WHERE {column} = ? LIMIT ?", (value, limit)):
                found.setdefault(r[0], r)
    for form in phone_forms(text, regions):
        for r in conn.execute(
            f"SELECT {COLS} FROM messages WHERE peer = ? ORDER BY id DESC LIMIT ?", (form, limit)
        ):
            found.setdefault(r[0], r)
    rows = sorted(found.values(), key=lambda r: -r[0])[:limit]
    return with_replies(conn, rows)


def message_of_event(conn: sqlite3.Connection, event_id: int) -> int | None:
    r = conn.execute("SELECT message FROM message_steps WHERE event_id = ?", (event_id,)).fetchone()
    return int(r[0]) if r else None


def resolve(conn: sqlite3.Connection, text: str, regions: Sequence[str] = ()) -> tuple[int, str] | None:
    """The message `text` names, and how (the second item). The rule, in this order:

    1. "#123" (a "#" then digits) names stored event 123: the message it is a step of,
       "event". Nothing else is tried for it.
    2. An id of the message itself: the internal id ("id"), the provider's messageId
       ("messageId"), then a correlationId ("correlationId": the send outranks the replies
       that carry it too), then a reply quoting it ("quotedMessageId").
    3. A phone, when `text` is phone-like (core/phones.looks_like_phone: only phone
       characters and 6..16 digits): the newest message with that contact ("phone"). A
       national format ("(11) 98187-0697") is read in each of `regions` (the countries of
       the account's numbers, core/phones.regions_of), first match wins.
    4. Otherwise None. A bare digit string ("123", "12345") is NEVER read as an event
       number: when it is no id and no phone (or no message has that phone), the answer
       is None and the caller says to write "#123" for an event (see `event_number`).
    """
    text = text.strip()
    if event_number(text) is not None:
        rows = search(conn, text, limit=1)
        return (rows[0].id, "event") if rows else None
    best: tuple[tuple[int, int], int, str] | None = None
    forms = id_forms(text)
    for r in search(conn, text, limit=100, regions=regions):
        if r.msg_id in forms:
            rank, how = 0, "id"
        elif r.provider_id in forms:
            rank, how = 1, "messageId"
        elif r.correlation_id in forms:
            rank, how = (2 if r.outbound else 3), "correlationId"
        elif r.quoted_id in forms:
            rank, how = 4, "quotedMessageId"
        else:
            rank, how = 5, "phone"
        if best is None or (rank, -r.id) < best[0]:
            best = ((rank, -r.id), r.id, how)
    return None if best is None else (best[1], best[2])


def find_message(conn: sqlite3.Connection, text: str, regions: Sequence[str] = ()) -> int | None:
    """The message `text` names, ranked as `resolve` does."""
    found = resolve(conn, text, regions)
    return None if found is None else found[0]


def stuck_count(conn: sqlite3.Connection, rules: StuckRules, now: float, cap: int = 100_000) -> int:
    return count_messages(conn, MessageFilter(stuck=rules, now=now), cap)


# -- Helpers of the Messages pane and its timeline (ui/panes/messages) ---------------------

_CHUNK = 500  # ids per IN (...): well under SQLite's variable limit


def chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    items = list(ids)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def messages_by_ids(
    conn: sqlite3.Connection, ids: Iterable[int], flt: MessageFilter | None = None
) -> list[MessageRow]:
    """These messages (only those `flt` matches, when given), newest first. Primary-key
    lookups: what a live view re-reads after a change descriptor."""
    where_sql, params = where(conn, flt) if flt is not None else ("1", [])
    rows: list[tuple[Any, ...]] = []
    for part in chunks(ids):
        marks = ",".join("?" * len(part))
        rows += conn.execute(
            f"SELECT {COLS} FROM messages WHERE id IN ({marks}) AND {where_sql}", [*part, *params]
        ).fetchall()
    rows.sort(key=lambda r: -r[0])
    return with_replies(conn, rows)


def duplicate_counts(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, int]:
    """Retries received for each message's steps (deliveries beyond the first); messages
    without any are left out."""
    found: dict[int, int] = {}
    for part in chunks(ids):
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
    for part in chunks(event_ids):
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


def page(
    conn: sqlite3.Connection, flt: MessageFilter, before_id: int | None, *, size: int, count_cap: int
) -> MessagePage:
    """One page of the Messages list; the first (no `before_id`) also counts the matches
    up to `count_cap` and lists the numbers. A sparse filter may scan: read off the GUI thread."""
    rows = messages_page(conn, flt, size + 1, before_id)
    shown = rows[:size]
    dups = duplicate_counts(conn, [r.id for r in shown])
    names = contact_names(conn, [r.peer for r in shown if r.outbound and r.peer and r.name is None])
    if before_id is not None:
        return MessagePage(shown, dups, len(rows) > size, names=names)
    count = count_messages(conn, flt, count_cap)
    return MessagePage(shown, dups, len(rows) > size, count, message_numbers(conn), names)


def changes(
    conn: sqlite3.Connection,
    ids: set[int],
    event_ids: Collection[int],
    flt: MessageFilter,
    shown: Collection[int],
    *,
    oldest: int | None,
    more: bool,
) -> MessageChanges:
    """Re-read messages a change descriptor named (`ids`, and those whose steps were
    redelivered: `event_ids`) for a list that shows `shown` (oldest shown `oldest`, `more`
    older pages) filtered by `flt`. Primary-key lookups only: fine on the GUI thread."""
    ids = ids | messages_of_events(conn, event_ids) if event_ids else ids
    changed = messages_by_ids(conn, ids)
    # A new reply changes its original's reply count without naming it.
    originals = [t for t in {r.reply_to for r in changed if r.reply_to is not None} - ids if t in shown]
    if originals:
        changed += messages_by_ids(conn, originals)
    in_view = [r for r in changed if r.id in shown]
    still = {r.id for r in messages_by_ids(conn, [r.id for r in in_view], flt)} if in_view else set()
    candidates = [
        r.id for r in changed if r.id not in shown and (oldest is None or r.id > oldest or not more)
    ]
    matching = messages_by_ids(conn, candidates, flt) if candidates else []
    return MessageChanges(
        in_view,
        duplicate_counts(conn, [r.id for r in in_view]),
        still,
        matching,
        duplicate_counts(conn, [r.id for r in matching]),
        {r.number_id for r in changed if r.number_id},
    )
