"""Plain records passed between the receiver, the writer and the read side."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pilot_desktop.core.events import Classified
from pilot_desktop.core.lifecycle import Observation
from pilot_desktop.core.numbers import Transition
from pilot_desktop.core.signature import Verdict
from pilot_desktop.core.wire import compact_pickle
from pilot_desktop.store.watch_records import WATCH_ITEMS, WatchItem, watch_bytes


def clean_text(value: str | None) -> str | None:
    """SQLite wants valid UTF-8; JSON may carry lone surrogates. Replace, never fail."""
    if value is None:
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


# Credentials a misdirected client may send (an API call aimed at the hook URL): stored as
# a marker, so the database never holds a key. The webhook signature is kept: it is
# derived from the secret, not the secret, and it is what a 401 is diagnosed with.
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
REDACTED = "[redacted by Pilot Desktop]"


def headers_json(headers: list[tuple[str, str]]) -> str:
    kept = [(k, REDACTED if k.lower() in REDACTED_HEADERS else v) for k, v in headers]
    return json.dumps(kept)  # ensure_ascii escapes anything odd


@compact_pickle
@dataclass(frozen=True, slots=True)
class IncomingEvent:
    received_at: float
    route: str | None
    headers: list[tuple[str, str]]
    body: bytes
    classified: Classified
    verdict: Verdict
    observation: Observation | None = None  # message.* events: applied to the projection
    # Protected numbers this delivery's signature does not vouch for (core/protection.py):
    # the writer refuses it if it names one of their messages (store/guard.py).
    forbid: frozenset[str] = frozenset()


@compact_pickle
@dataclass(frozen=True, slots=True)
class NumberPoll:
    """What one polling round learnt: each answer is one number's JSON object from
    `GET /v1/numbers` (endpoint "list") or `GET /v1/numbers/{id}/status` ("status")."""

    polled_at: float
    answers: list[tuple[str, str, dict[str, Any]]]  # (number_id, endpoint, answer)

    body = None  # the writer sizes items by their body; a poll is small


@compact_pickle
@dataclass(frozen=True, slots=True)
class Rejection:
    received_at: float
    status: int
    reason: str
    method: str
    path: str
    remote: str | None
    headers: list[tuple[str, str]]
    body: bytes | None
    body_size: int | None
    route: str | None = None  # the hook URL's <route> (the token is never kept apart from path)
    number_id: str | None = None  # the number the route or the body names
    delivery: bool = False  # a POST to /hooks/...: a webhook delivery, not a stray request
    diagnosis: str | None = None  # JSON (core/diagnosis.py), for signature refusals


@compact_pickle
@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The running core is alive at `at` (`stopped`: it stops cleanly now). The store keeps
    the last one: the next start knows since when nothing was received (services/gaps.py)."""

    at: float
    run_started_at: float
    pid: int
    stopped: bool = False

    body = None  # the writer sizes items by their body


@compact_pickle
@dataclass(frozen=True, slots=True)
class GapMark:
    """Open a gap (`gap_id` None: the writer answers the new id), end one (`ended_at`), or
    record its catch-up (`caught_up_at` with `catch_up` JSON). Unset fields are left alone."""

    gap_id: int | None = None
    kind: str = ""
    started_at: float | None = None
    reason: str = ""
    ended_at: float | None = None
    caught_up_at: float | None = None
    catch_up: str | None = None

    body = None  # the writer sizes items by their body


def item_bytes(item: IncomingEvent | Rejection | NumberPoll | Heartbeat | GapMark | WatchItem) -> int:
    """About what a queued item holds in memory: the body, every header, the texts. The
    writer's memory bound counts this (headers can outweigh a small body many times)."""
    if isinstance(item, WATCH_ITEMS):
        return watch_bytes(item)
    size = 512 + len(item.body or b"")
    if isinstance(item, NumberPoll):
        return size + 1024 * len(item.answers)
    if isinstance(item, Heartbeat | GapMark):
        return size + len(getattr(item, "catch_up", None) or "")
    size += sum(len(k) + len(v) + 64 for k, v in item.headers)
    if isinstance(item, Rejection):
        return size + len(item.reason) + len(item.path) + len(item.diagnosis or "")
    c = item.classified
    return size + len(c.summary) + len(c.dedupe_key) + sum(256 for _ in c.issues)


@compact_pickle
@dataclass(frozen=True, slots=True)
class Refused:
    """An event the writer would not store (store/guard.py): answered 401, never stored."""

    reason: str


@compact_pickle
@dataclass(frozen=True, slots=True)
class Stored:
    """What the writer reports for one event after COMMIT."""

    id: int
    deliveries: int

    @property
    def duplicate(self) -> bool:
        return self.deliveries > 1


@compact_pickle
@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the live stream: everything the table shows, nothing heavy."""

    id: int
    received_at: float
    event: str
    group: str
    number_id: str | None
    from_addr: str | None
    to_addr: str | None
    summary: str
    signature: str
    deliveries: int
    classification: str


@dataclass(frozen=True, slots=True)
class EventDetail:
    row: EventRow
    event_time: str | None
    last_received_at: float
    schema_issues: list[dict[str, str]]
    signature_secret: str | None
    route: str | None
    headers: list[tuple[str, str]]
    body: bytes

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class RejectionRow:
    id: int
    received_at: float
    status: int
    reason: str
    method: str
    path: str
    remote: str | None
    body_size: int | None
    route: str | None = None
    number_id: str | None = None
    delivery: bool = False
    diagnosis: dict[str, Any] | None = None  # core/diagnosis.py, for signature refusals


@dataclass(frozen=True, slots=True)
class RejectionDetail:
    row: RejectionRow
    headers: list[tuple[str, str]]
    body: bytes  # what was kept: a bounded preview (receiver/limits.py)


@dataclass(frozen=True, slots=True)
class Gap:
    """A time this receiver could not receive (services/gaps.py)."""

    id: int
    kind: str
    started_at: float
    ended_at: float | None  # None: still open
    reason: str
    caught_up_at: float | None = None
    catch_up: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HeartbeatRow:
    run_started_at: float
    alive_at: float
    stopped_at: float | None
    pid: int | None


@dataclass(slots=True)
class Changes:
    """One descriptor per committed batch: what the views may need to redraw."""

    new_events: list[EventRow] = field(default_factory=list)
    redelivered: dict[int, int] = field(default_factory=dict)  # event id -> deliveries
    rejections: int = 0
    messages: set[int] = field(default_factory=set)  # messages.id whose projection changed
    numbers: set[str] = field(default_factory=set)  # number ids whose state or history changed
    transitions: list[Transition] = field(default_factory=list)  # for the notifier
    gaps: bool = False  # a gap opened, ended or was caught up (services/gaps.py)
    watch: bool = False  # a probe, the tunnel, a public URL or a drift finding (watch_records.py)

    def __bool__(self) -> bool:
        return bool(
            self.new_events or self.redelivered or self.rejections or self.numbers or self.gaps or self.watch
        )
