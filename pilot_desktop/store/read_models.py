"""The read side's vocabulary: the filters a view asks with and the rows it gets back.

Plain records, no SQL run here: the query modules (queries, message_queries, timelines,
funnel_queries, number_queries) fill them, and the read facade (reads.py) hands them to
the window. The window imports these and reads.py, nothing else of the store.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

from pilot_desktop.core.format import iso
from pilot_desktop.core.lifecycle import FAILED, QUEUED, SENT, latency, percentile
from pilot_desktop.core.numbers import NumberState
from pilot_desktop.store.records import EventRow, Gap

DAY = 24 * 3600
NumberNames = dict[str, tuple[str | None, str | None]]  # id -> (display name, phone)
IdList: TypeAlias = "range | array[int]"  # array is not subscriptable at runtime


# -- events ------------------------------------------------------------------------------
class Mark(NamedTuple):
    """Where a refusal or a gap sits among the events of the Live list: just before the
    event `anchor`, the first received at or after `at` (past the newest event: its id + 1),
    so one mark fits every filter of the events (store/live_queries.py)."""

    anchor: int
    at: float
    kind: str  # "gap" | "refusal"
    ident: int  # gaps.id or rejections.id


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The Live list in one read: the events' ids, the refusals' and gaps' marks."""

    ids: IdList
    refusals: list[Mark]
    gaps: list[tuple[Mark, Gap]]


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a view shows. Empty `groups` means every group."""

    groups: frozenset[str] = frozenset()
    number_id: str | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.groups:
            clauses.append(f"event_group IN ({','.join('?' * len(self.groups))})")
            params.extend(sorted(self.groups))
        if self.number_id is not None:
            clauses.append("number_id = ?")
            params.append(self.number_id)
        return (" AND ".join(clauses) or "1"), params

    def matches(self, row: EventRow) -> bool:
        if self.groups and row.group not in self.groups:
            return False
        return self.number_id is None or row.number_id == self.number_id


# -- messages ------------------------------------------------------------------------------
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
    # From the message's stored events (store/message_extras.py), not columns:
    name: str | None = None  # the contact's name (participantName)
    chat: str | None = None  # "group" | "channel": posted in a group or a channel
    chat_name: str | None = None  # that group's or channel's name (else its id)
    issues: tuple[str, ...] = ()  # schema issues of its events, "path: message"

    @property
    def to_delivered(self) -> float | None:
        return latency(self.sent_at, self.delivered_at)

    @property
    def to_read(self) -> float | None:
        return latency(self.delivered_at, self.read_at)


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

    def where(self, first_id: int | None = None) -> tuple[str, list[object]]:
        """With `first_id` (message_queries.first_id_since), a time range also bounds the
        ids scanned."""
        clauses: list[str] = []
        params: list[object] = []
        if first_id is not None:
            clauses.append("id >= ?")
            params.append(first_id)
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


@dataclass(frozen=True, slots=True)
class MessageChanges:
    """What a batch of changed messages means for a list showing `shown` under a filter."""

    in_view: list[MessageRow]  # shown now: their new state (and the originals of new replies)
    in_view_dups: dict[int, int]
    still: set[int]  # of in_view, those the filter still matches
    matching: list[MessageRow]  # not shown, newer than the oldest shown, and matching the filter
    matching_dups: dict[int, int]
    numbers: set[str]  # the numbers of all the changed messages


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of the Messages list (the first also carries the count and the numbers)."""

    rows: list[MessageRow]
    dups: dict[int, int]  # retries per message, for those with any
    more: bool
    count: int | None = None
    numbers: list[str] | None = None
    names: dict[str, str] = field(default_factory=dict)  # contact phone -> name, for sends


@dataclass(frozen=True, slots=True)
class Reconstruction:
    """A step filled from the API after a gap (its body's top-level `reconstructed`)."""

    source: str  # e.g. "GET /v1/messages/msg_…"
    at: float | None  # when it was read back
    at_text: str = ""  # `at` as the body gave it


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
    signature: str = "valid"  # the event's verdict; "reconstructed": read back from the API
    reconstructed: Reconstruction | None = None  # set when signature is "reconstructed"

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
    gaps: list[Gap] = field(default_factory=list)  # times nothing was received, over its span
    superseded: list[Step] = field(default_factory=list)  # reconstructed, then its webhook came
    pii_mode: str | None = None  # the number's, when known (content may not be retained)

    @property
    def duplicates(self) -> int:
        return sum(s.deliveries - 1 for s in self.steps)


def _reconstruction(r: Reconstruction | None) -> dict[str, Any] | None:
    return None if r is None else {"source": r.source, "at": r.at_text or iso(r.at)}


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
                "receivedAt": iso(s.received_at),
                "late": s.late,
                "deliveries": s.deliveries,
                "eventId": s.event_id,
                "reconstructed": _reconstruction(s.reconstructed),
            }
            for s in t.steps
        ],
        "gaps": [
            {"kind": g.kind, "startedAt": iso(g.started_at), "endedAt": iso(g.ended_at), "reason": g.reason}
            for g in t.gaps
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
                "createdAt": iso(r.first_at),
                "text": r.text,
            }
            for r in t.replies
        ],
        "hints": t.hints,
    }


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


@dataclass(frozen=True, slots=True)
class NumberFunnel:
    """One row of the Delivery tab's per-number table (shown with "All numbers")."""

    number: str
    total: int
    sent: int
    delivered: float | None  # rates of the number's outbound messages in the period
    read: float | None
    failed: float | None
    median_delivery: float | None


@dataclass(frozen=True, slots=True)
class FunnelSnapshot:
    """Everything the Delivery tab draws for one choice of number and period."""

    number: str | None  # None: all numbers
    since: float
    until: float
    numbers: list[str]
    funnel: Funnel
    per_number: list[NumberFunnel] = field(default_factory=list)  # only for all numbers
    names: NumberNames = field(default_factory=dict)  # id -> (name, phone)


# -- numbers -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NumberSummary:
    state: NumberState
    provider: str | None
    billing_blocked_since: str | None
    billing_disconnect_at: str | None
    last_poll_at: float | None
    last_event_at: float | None  # last webhook of any kind for this number
    events: int
    uptime_24h: float | None
    uptime_7d: float | None
    flaps_24h: int
    strip_24h: list[str]  # 48 half-hour slots, oldest first
    # From GET /v1/numbers/{id} (services/number_poller.py): Meta health and the PII mode.
    quality_rating: str | None = None  # health.qualityRating, e.g. GREEN / YELLOW / RED
    messaging_tier: str | None = None  # health.messagingLimitTier
    sendable: bool | None = None  # health.sendable; None: not known
    pii_mode: str | None = None  # RELAY_ONLY | STORE_X_DAYS | STORE_INDEFINITE
    detail_at: float | None = None  # when that detail was read
    history_24h: tuple[tuple[float, str], ...] = ()  # (since, connection state), the strip's
    entered_from: str | None = None  # the connection state before the current one, if recorded

    @property
    def number_id(self) -> str:
        return self.state.number_id


@dataclass(frozen=True, slots=True)
class TransitionRow:
    id: int
    number_id: str
    kind: str
    before: str
    after: str
    at: float
    received_at: float
    source: str
    event: str
    late: bool
    error: str | None
    error_code: str | None


@dataclass(frozen=True)
class NumbersOverview:
    """The Numbers tab: every number, and the history of the one to select."""

    summaries: list[NumberSummary]
    known_since: dict[str, float]  # since when each number's connection state is known (7 d at most)
    history: list[TransitionRow]  # of the number it was read for
    number_id: str | None
    now: float
