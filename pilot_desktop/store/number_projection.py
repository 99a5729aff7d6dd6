"""Applies core/numbers.py to SQLite: `number_state` and `number_transitions`.

Webhooks (`number.*` events) are projected by the writer in the ingest transaction; poll
answers come to the same writer as a `NumberPoll`, are kept raw in `number_polls` and
projected the same way. `rebuild_numbers` replays both, merged by arrival time. The
endpoints: "status" (live state), "list" (names, billing block) and "detail" (the same plus
Meta health and the PII mode, core/meta_health.py).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import astuple, fields
from typing import Any

from pilot_desktop.core.meta_health import MetaHealth, changes, read_detail
from pilot_desktop.core.numbers import (
    NumberObservation,
    NumberState,
    Transition,
    apply,
    observe_event,
    observe_listing,
    observe_status,
)

# Kept per number: a flapping number makes thousands of transitions a month.
TRANSITIONS_KEPT = 5000
POLLS_KEPT_S = 8 * 24 * 3600  # raw poll answers older than the longest uptime view go

_STATE_COLS = tuple(f.name for f in fields(NumberState))
_SELECT = f"SELECT {', '.join(_STATE_COLS)} FROM number_state WHERE number_id = ?"
_UPSERT = (
    f"INSERT INTO number_state ({', '.join(_STATE_COLS)}, updated_at) "
    f"VALUES ({', '.join('?' * (len(_STATE_COLS) + 1))}) "
    f"ON CONFLICT (number_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_STATE_COLS[1:], "updated_at"))
)
_TRANSITION = (
    "INSERT INTO number_transitions (number_id, kind, before, after, at, received_at, source, event, "
    "late, error, error_code, event_id, poll_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _state(conn: sqlite3.Connection, number_id: str) -> NumberState | None:
    row = conn.execute(_SELECT, (number_id,)).fetchone()
    return NumberState(*row) if row else None


def _known(conn: sqlite3.Connection, t: Transition) -> bool:
    q = "SELECT 1 FROM number_transitions WHERE number_id = ? AND kind = ? AND at = ? AND after = ? LIMIT 1"
    return conn.execute(q, (t.number_id, t.kind, t.at, t.after)).fetchone() is not None


def project(
    conn: sqlite3.Connection,
    obs: NumberObservation,
    received_at: float,
    *,
    event_id: int | None = None,
    poll_id: int | None = None,
) -> Transition | None:
    before = _state(conn, obs.number_id)
    after, transition = apply(before, obs)
    if after != before:
        conn.execute(_UPSERT, (*astuple(after), received_at))
    if transition is not None and transition.late and _known(conn, transition):
        return None  # the same old news again (a repeated webhook or poll answer)
    if transition is not None:
        _record(conn, transition, received_at, event_id=event_id, poll_id=poll_id)
    return transition


def project_event(
    conn: sqlite3.Connection, event_id: int, received_at: float, body: bytes
) -> Transition | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    obs = observe_event(obj, received_at) if isinstance(obj, dict) else None
    return None if obs is None else project(conn, obs, received_at, event_id=event_id)


def _observations(
    number_id: str, endpoint: str, answer: dict[str, Any], polled_at: float
) -> list[NumberObservation]:
    if endpoint == "status":
        return [
            observe_status(
                number_id,
                answer.get("state"),
                polled_at,
                stale=answer.get("stale") is True,
                checked_at=answer.get("checkedAt"),
                last_known_at=answer.get("lastKnownAt"),
            )
        ]
    state = answer.get("state")
    link = answer.get("primaryLink")
    if state is None and isinstance(link, dict):
        state = link.get("state")  # api §4.2: the flat `state` is not in the SDK type
    name, phone = answer.get("name"), answer.get("number")
    phone = f"+{phone}" if isinstance(phone, str) and phone.isdigit() else phone
    event = f"poll:{endpoint}"  # the detail's state is the list's: not refreshed (api §4.2)
    return [observe_listing(number_id, state, polled_at, name=name, phone=phone, event=event)]


def _record(
    conn: sqlite3.Connection,
    t: Transition,
    received_at: float,
    *,
    event_id: int | None = None,
    poll_id: int | None = None,
) -> Transition:
    conn.execute(
        _TRANSITION,
        (t.number_id, t.kind, t.before, t.after, t.at, received_at, t.source, t.event, t.late, t.error,
         t.error_code, event_id, poll_id),
    )  # fmt: skip
    return t


def _meta_health(
    conn: sqlite3.Connection, number_id: str, answer: dict[str, Any], polled_at: float, poll_id: int
) -> list[Transition]:
    """The detail's Meta health and PII mode onto the number (a newer reading only); a
    quality or `sendable` change is a transition of its own kind."""
    row = conn.execute(
        "SELECT quality_rating, messaging_tier, sendable, pii_mode, detail_at FROM number_state "
        "WHERE number_id = ?",
        (number_id,),
    ).fetchone()
    if row is not None and row[4] is not None and row[4] > polled_at:
        return []
    before = None if row is None or row[4] is None else MetaHealth(row[0], row[1], _flag(row[2]), row[3])
    after = read_detail(answer)
    conn.execute(
        "UPDATE number_state SET quality_rating = ?, messaging_tier = ?, sendable = ?, pii_mode = ?, "
        "detail_at = ? WHERE number_id = ?",
        (after.quality_rating, after.messaging_tier, after.sendable, after.pii_mode, polled_at, number_id),
    )
    found = [Transition(number_id, kind, was, now, polled_at, "poll", "poll:detail", late=False)
             for kind, was, now in changes(before, after)]  # fmt: skip
    return [_record(conn, t, polled_at, poll_id=poll_id) for t in found]


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _billing(
    conn: sqlite3.Connection,
    number_id: str,
    answer: dict[str, Any],
    polled_at: float,
    *,
    poll_id: int,
    event: str,
) -> Transition | None:
    """The list's (and the detail's) extra-charge block (api §4.2); a change is a `billing`
    transition."""
    if "extraChargeUnpaidSince" not in answer:
        return None
    since = answer.get("extraChargeUnpaidSince")
    row = conn.execute(
        "SELECT billing_blocked_since FROM number_state WHERE number_id = ?", (number_id,)
    ).fetchone()
    before = row[0] if row else None
    conn.execute(
        "UPDATE number_state SET billing_blocked_since = ?, billing_disconnect_at = ?, "
        "provider = coalesce(?, provider) WHERE number_id = ?",
        (since, answer.get("extraChargeDisconnectAt"), answer.get("provider"), number_id),
    )
    if (before is None) == (since is None):
        return None
    was, now = ("blocked" if before else "ok"), ("blocked" if since else "ok")
    return _record(conn, Transition(number_id, "billing", was, now, polled_at, "poll", event, late=False),
                   polled_at, poll_id=poll_id)  # fmt: skip


def project_poll(
    conn: sqlite3.Connection,
    poll_id: int,
    *,
    number_id: str,
    endpoint: str,
    answer: dict[str, Any],
    polled_at: float,
) -> list[Transition]:
    out = []
    for obs in _observations(number_id, endpoint, answer, polled_at):
        if (t := project(conn, obs, polled_at, poll_id=poll_id)) is not None:
            out.append(t)
    conn.execute(
        "UPDATE number_state SET last_poll_at = max(coalesce(last_poll_at, 0), ?) WHERE number_id = ?",
        (polled_at, number_id),
    )
    if endpoint in ("list", "detail"):
        event = f"poll:{endpoint}"
        if (t := _billing(conn, number_id, answer, polled_at, poll_id=poll_id, event=event)) is not None:
            out.append(t)
    if endpoint == "detail":
        out += _meta_health(conn, number_id, answer, polled_at, poll_id)
    return out


def record_poll(
    conn: sqlite3.Connection, polled_at: float, number_id: str, endpoint: str, answer: dict[str, Any]
) -> list[Transition]:
    poll_id = conn.execute(
        "INSERT INTO number_polls (polled_at, number_id, endpoint, body) VALUES (?, ?, ?, ?)",
        (polled_at, number_id, endpoint, json.dumps(answer)),
    ).lastrowid
    assert poll_id is not None
    return project_poll(
        conn, poll_id, number_id=number_id, endpoint=endpoint, answer=answer, polled_at=polled_at
    )


def trim(conn: sqlite3.Connection, now: float) -> None:
    """Bound the raw polls and each number's history (the writer calls it now and then)."""
    conn.execute("DELETE FROM number_polls WHERE polled_at < ?", (now - POLLS_KEPT_S,))
    conn.execute(
        "DELETE FROM number_transitions WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
        "(PARTITION BY number_id ORDER BY id DESC) AS n FROM number_transitions) WHERE n > ?)",
        (TRANSITIONS_KEPT,),
    )


def rebuild_numbers(conn: sqlite3.Connection) -> int:
    """Recompute number state and history from the stored events and polls, in arrival
    order. The caller owns the transaction. Returns the number of numbers."""
    conn.execute("DELETE FROM number_transitions")
    conn.execute("DELETE FROM number_state")
    cur = conn.execute(
        "SELECT received_at, 0, id, body, NULL, NULL FROM events WHERE event_group = 'number' "
        "UNION ALL SELECT polled_at, 1, id, body, number_id, endpoint FROM number_polls ORDER BY 1, 2, 3"
    )
    while rows := cur.fetchmany(2000):
        for at, is_poll, ident, body, number_id, endpoint in rows:
            if not is_poll:
                project_event(conn, ident, at, body)
                continue
            answer = json.loads(body)
            if isinstance(answer, dict):
                project_poll(conn, ident, number_id=number_id, endpoint=endpoint, answer=answer, polled_at=at)
    return int(conn.execute("SELECT count(*) FROM number_state").fetchone()[0])
