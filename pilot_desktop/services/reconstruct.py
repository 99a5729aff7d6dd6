"""Steps read back from the REST API, as synthetic events the writer stores (catch_up.py).

`GET /v1/messages/{id}` (api §5.2) gives a message's status and the time of each step
(`sentAt`, `deliveredAt`, `readAt`; a failure has no time). Each step the store lacks
becomes a webhook-shaped body (`{"event": "message.sent", "data": {...}}`) marked
`reconstructed` (its source and when it was read), stored through the normal writer path
with the signature status "reconstructed": Live and the timelines say "reconstructed from
the API", never "delivered". The body carries the same event name, ids and `createdAt` as
the webhook would, so its dedupe key is the webhook's: a webhook arriving later is counted
as a redelivery, never stored twice. A failure has no time on the API, so its body has no
`createdAt` (a schema issue, said as such): its key is its body's hash.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NamedTuple, Protocol

from pilot_desktop.api.models import MessageDetails
from pilot_desktop.core.events import classify, dedupe_key
from pilot_desktop.core.format import iso
from pilot_desktop.core.lifecycle import DELIVERED, FAILED, QUEUED, RANK, READ, SENT, TERMINAL, observe
from pilot_desktop.core.signature import Verdict
from pilot_desktop.store.catch_up_queries import StoredOutbound
from pilot_desktop.store.records import IncomingEvent

HEADER = "x-pilot-desktop-reconstructed"
REASON = "read back from the REST API after a gap"
_TIMED: tuple[tuple[str, str, str], ...] = (
    (SENT, "message.sent", "sent_at"),
    (DELIVERED, "message.delivered", "delivered_at"),
    (READ, "message.read", "read_at"),
)


class Step(NamedTuple):
    status: str
    event: str
    at: str | None  # the API's time of the step; None for a failure


class Known(Protocol):
    """What the API says of a message's steps: `GET /v1/messages/{id}` and history rows alike."""

    @property
    def status(self) -> str | None: ...
    @property
    def sent_at(self) -> str | None: ...
    @property
    def delivered_at(self) -> str | None: ...
    @property
    def read_at(self) -> str | None: ...


def api_steps(known: Known) -> list[Step]:
    """The steps the API knows: each with a time, and the current status even without one."""
    status = (known.status or "").upper()
    steps = []
    for step, event, field in _TIMED:
        at = getattr(known, field)
        if at or status == step:
            steps.append(Step(step, event, at or None))
    if status == FAILED:
        steps.append(Step(FAILED, "message.failed", None))
    return steps


def missing_steps(known: Known, stored: StoredOutbound | None) -> list[Step]:
    """The API's steps the store lacks: never a step it has. A step with its time is its
    webhook's event (same dedupe key), so it is filled in even below the stored status (a
    lost DELIVERED of a message READ since): the status never goes back (core/lifecycle.py).
    A step without a time (a failure, a status whose time the API omits) only when it is
    ahead of the stored status: there is no webhook event to match it with."""
    have = stored.steps if stored else frozenset()
    current = stored.status if stored else QUEUED
    out = []
    for step in api_steps(known):
        if step.status in have:
            continue
        ahead = current not in TERMINAL and (
            step.status == FAILED or RANK[step.status] > RANK.get(current, 0)
        )
        if step.at or ahead:
            out.append(step)
    return out


def lacks(known: Known, stored: StoredOutbound | None) -> bool:
    """Whether the API knows a step of this message the store lacks (a history row)."""
    return bool(missing_steps(known, stored))


def body_of(
    details: MessageDetails, number_id: str, step: Step, source: str, read_at: float
) -> dict[str, Any]:
    """The webhook-shaped body of one step (api §1: the message.* data fields the API gives)."""
    data: dict[str, Any] = {"numberId": number_id, "id": details.id, "messageId": details.external_message_id}
    if details.correlation_id:
        data["correlationId"] = details.correlation_id
    if details.destination_number:
        data["to"] = details.destination_number
    data["fromMe"] = True
    if step.at:
        data["createdAt"] = step.at
    if step.status == FAILED:
        if details.error_message:
            data["error"] = details.error_message
        if details.error_code:
            data["errorCode"] = details.error_code
    return {"event": step.event, "data": data, "reconstructed": {"source": source, "at": iso(read_at)}}


def reconstructed_event(
    details: MessageDetails, number_id: str, step: Step, read_at: float, *, now: float
) -> IncomingEvent:
    """The writer's item for one restored step: signature "reconstructed", its source in a header."""
    source = f"GET /v1/messages/{details.id}"
    obj = body_of(details, number_id, step, source, read_at)
    # ASCII-escaped: any text the API returned (a lone surrogate too) stays valid JSON bytes.
    raw = json.dumps(obj, separators=(",", ":")).encode("ascii")
    # Keyed as its webhook would be, never by when it was read: a step without a time (a
    # failure) read back by two catch-ups is one event, not two.
    as_webhook = {k: v for k, v in obj.items() if k != "reconstructed"}
    return IncomingEvent(
        received_at=now,
        route=None,
        headers=[(HEADER, f"{source} at {iso(read_at)}")],
        body=raw,
        classified=replace(classify(obj), dedupe_key=dedupe_key(as_webhook)),
        verdict=Verdict("reconstructed", reason=REASON),
        observation=observe(obj),
    )
