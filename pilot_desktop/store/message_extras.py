"""What a message's webhooks carried beyond the `messages` columns, read from its stored
events (the raw bodies, the schema issues) for the rows shown: the contact's name
(`participantName`), the group or channel (newsletter) it was posted in, and what did not
match the schema. Derived from what is stored: no schema change, and a rebuild keeps it.

One indexed lookup per batch of shown messages (message_steps_message, then events by
primary key); SQLite's JSON functions read the bodies, guarded by json_valid (a body that
is no JSON reads as nothing, never as an error).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

GROUP = "group"
CHANNEL = "channel"
_GROUP_SUFFIX = "@g.us"
_CHANNEL_SUFFIX = "@newsletter"
_CHUNK = 500  # ids per IN (...)
NAME_LOOKBACK = 20_000  # recent inbound events searched for an outbound contact's name

_FIELDS = (
    "participantName",
    "groupId",
    "groupName",
    "newsletterId",
    "newsletterName",
)


@dataclass(frozen=True, slots=True)
class Extras:
    name: str | None = None  # the contact's name as a webhook carried it
    chat: str | None = None  # GROUP | CHANNEL: a post in a group or a channel, else None
    chat_name: str | None = None  # the group's or channel's name (else its id)
    issues: tuple[str, ...] = ()  # "$.data.to: Input should be a valid string", one per kind


def chat_of_peer(peer: str | None) -> str | None:
    """A send to a group or channel names it by its JID."""
    if peer and peer.endswith(_GROUP_SUFFIX):
        return GROUP
    if peer and peer.endswith(_CHANNEL_SUFFIX):
        return CHANNEL
    return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _issue_lines(raw: str | None) -> list[str]:
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        return []
    lines: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            lines.append(f"{item.get('path', '?')}: {item.get('message', '?')}")
    return lines


def _select(marks: str) -> str:
    picks = ", ".join(f"json_extract(t, '$.data.{f}')" for f in _FIELDS)
    return (
        f"SELECT message, schema_issues, {picks} FROM (SELECT s.message, e.schema_issues, "
        "CASE WHEN json_valid(CAST(e.body AS TEXT)) THEN CAST(e.body AS TEXT) END AS t "
        f"FROM message_steps s JOIN events e ON e.id = s.event_id WHERE s.message IN ({marks}) "
        "ORDER BY s.event_id)"
    )


def extras(conn: sqlite3.Connection, ids: Iterable[int], peers: dict[int, str | None]) -> dict[int, Extras]:
    """The extras of these messages (`peers`: each one's contact, for a send to a group or
    channel); messages with nothing to add are left out."""
    found: dict[int, dict[str, object]] = {}
    items = list(ids)
    for start in range(0, len(items), _CHUNK):
        part = items[start : start + _CHUNK]
        for message, raw_issues, *values in conn.execute(_select(",".join("?" * len(part))), part):
            seen = found.setdefault(message, {"issues": []})
            for key, value in zip(_FIELDS, values, strict=True):
                if (text := _text(value)) is not None:
                    seen.setdefault(key, text)
            issues: list[str] = seen["issues"]  # type: ignore[assignment]
            issues += [line for line in _issue_lines(raw_issues) if line not in issues]
    out: dict[int, Extras] = {}
    for message in items:
        seen = found.get(message, {})
        chat, chat_name = chat_of_peer(peers.get(message)), None
        if "groupId" in seen or "groupName" in seen:
            chat, chat_name = GROUP, seen.get("groupName") or seen.get("groupId")
        elif "newsletterId" in seen or "newsletterName" in seen:
            chat, chat_name = CHANNEL, seen.get("newsletterName") or seen.get("newsletterId")
        elif chat is not None:
            chat_name = peers.get(message)
        got = Extras(
            seen.get("participantName"),  # type: ignore[arg-type]
            chat,
            chat_name,  # type: ignore[arg-type]
            tuple(seen.get("issues") or ()),  # type: ignore[arg-type]
        )
        if got != Extras():
            out[message] = got
    return out


def contact_names(conn: sqlite3.Connection, phones: Iterable[str]) -> dict[str, str]:
    """Names the contacts behind `phones` gave in their recent inbound messages
    (participantName), newest first; bounded to the last NAME_LOOKBACK inbound events."""
    wanted = sorted({p for p in phones if p})
    if not wanted:
        return {}
    top = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    names: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        rows = conn.execute(
            "SELECT from_addr, CASE WHEN json_valid(CAST(body AS TEXT)) THEN "
            "json_extract(CAST(body AS TEXT), '$.data.participantName') END FROM events "
            f"WHERE event_group = 'inbound' AND id > ? AND from_addr IN ({','.join('?' * len(part))}) "
            "ORDER BY id DESC",
            [top - NAME_LOOKBACK, *part],
        )
        for phone, name in rows:
            if (text := _text(name)) is not None:
                names.setdefault(phone, text)
    return names
