"""The writer's half of number protection (core/protection.py): messages of protected numbers.

A status event may name its message only by ids (`data.id`, `correlationId`, the provider's
`messageId`, a reply's `quotedMessageId`); which number the message belongs to is known
only to the `messages` projection. So the check is made here, in the transaction that would
store the event, before its dedupe key is looked at: an event whose delivery does not vouch
for a protected number (`IncomingEvent.forbid`) and that names one of that number's messages
is refused, never stored, and so can neither change the message nor make the genuine
delivery a "duplicate". One indexed query per batch, and only when such an event is in it.

Direction is matched as the projection matches it: ids find messages of the same direction,
an inbound message's quote (or, without a quote, its correlationId) finds the outbound message
it answers.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

from pilot_desktop.core.lifecycle import Observation
from pilot_desktop.store.records import IncomingEvent, Refused

_COLUMNS = ("msg_id", "correlation_id", "provider_id")
_CHUNK = 200  # ids per query, far under SQLite's parameter limit
Ref = tuple[str, bool, str]  # (column, outbound, value)


def scoped_key(key: str, number_id: str | None) -> str:
    """The dedupe key of an event whose key is already stored for another number."""
    return hashlib.sha256(f"{key}\n{number_id or ''}".encode("utf-8", "surrogatepass")).hexdigest()


def _own(obs: Observation) -> Iterator[Ref]:
    """The ids that find the event's own message (projection.py `find`)."""
    for column in _COLUMNS:
        if (value := getattr(obs, column)) is not None:
            yield column, obs.outbound, value


def _refs(obs: Observation) -> Iterator[Ref]:
    """Its own ids, and for an inbound message the outbound one it would be linked to
    (projection.py `_link`): the one it quotes or, without a quote, its correlationId's."""
    yield from _own(obs)
    if obs.quoted_id is not None:
        yield "provider_id", True, obs.quoted_id
    elif obs.correlation_id is not None and not obs.outbound:
        yield "correlation_id", True, obs.correlation_id


def refusals(conn: sqlite3.Connection, items: list[IncomingEvent]) -> dict[int, Refused]:
    """Index in `items` -> why it is refused, for the batch's events in arrival order."""
    if not any(i.forbid and i.observation for i in items):
        return {}
    owner = _owners(conn, [r for i in items if i.forbid and i.observation for r in _refs(i.observation)])
    out: dict[int, Refused] = {}
    for n, item in enumerate(items):
        obs = item.observation
        if obs is None:
            continue
        refs = list(_refs(obs))
        if item.forbid:
            for column, outbound, value in refs:
                number = owner.get((column, outbound, value))
                if number is not None and number in item.forbid:
                    out[n] = Refused(
                        f"this event names message {value} ({column}) of number {number}, which a stored "
                        "signing secret protects: it is accepted only when signed with that number's "
                        "webhook secret"
                    )
                    break
        if n not in out and obs.number_id is not None:
            for ref in _own(obs):  # an earlier event of this batch made the message
                owner.setdefault(ref, obs.number_id)
    return out


def _owners(conn: sqlite3.Connection, refs: list[Ref]) -> dict[Ref, str]:
    """Which number each referenced message belongs to (the stored messages)."""
    owner: dict[Ref, str] = {}
    wanted = {(c, v) for c, _, v in refs}
    ordered = sorted(wanted)
    for part in (ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)):
        where = " OR ".join(f"{c} = ?" for c, _ in part)
        sql = f"SELECT {', '.join(_COLUMNS)}, outbound, number_id FROM messages WHERE {where} ORDER BY id"
        for *values, outbound, number in conn.execute(sql, [v for _, v in part]):
            if number is None:
                continue
            for column, value in zip(_COLUMNS, values, strict=True):
                if value is not None and (column, value) in wanted:
                    owner.setdefault((column, bool(outbound), value), number)
    return owner
