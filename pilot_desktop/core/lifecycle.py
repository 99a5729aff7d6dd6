"""Message lifecycle: what one `message.*` event says about its message, and the rules
that fold a message's events into its current state (docs/architecture.md, state rules).

Pure functions only. The store applies them in the writer's transaction and `rebuild`
replays them over the raw events in arrival order, so both give the same rows.

Status order: QUEUED < SENT < DELIVERED < READ. FAILED and CANCELED are terminal and win
over every other status, whatever the arrival order; a DELIVERED or READ that comes
with or after a FAILED is kept on the timeline (multi-device: docs/architecture.md) but the status
stays FAILED. So the status is a function of the *set* of steps: permutations and
duplicates of one message's deliveries give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from pilot_desktop.core.catalogue import INBOUND_EVENTS
from pilot_desktop.core.events import failure_reason, message_id_of, replied_text
from pilot_desktop.core.format import parse_time
from pilot_desktop.core.wire import compact_pickle

QUEUED, SENT, DELIVERED, READ, FAILED, CANCELED = "QUEUED", "SENT", "DELIVERED", "READ", "FAILED", "CANCELED"
RECEIVED = "RECEIVED"  # an inbound message: one step, its own entry

# Precedence of the current status. Terminal statuses outrank the happy path.
RANK = {QUEUED: 0, SENT: 1, DELIVERED: 2, READ: 3, RECEIVED: 3, CANCELED: 8, FAILED: 9}
TERMINAL = frozenset({FAILED, CANCELED})
STATUSES = (QUEUED, SENT, DELIVERED, READ, FAILED, CANCELED, RECEIVED)

_STATUS_OF_EVENT = {
    "message.sent": SENT,
    "message.delivered": DELIVERED,
    "message.read": READ,
    "message.failed": FAILED,
}

# api §1.7: a closed set that grows; the page was cut after META_RA…, so anything else
# is "needs review" rather than guessed.
ERROR_MEANINGS: dict[str, str] = {
    "DELIVERED_NOT_CONFIRMED": "Sent, but no delivery confirmation came before the deadline "
    "(deliverUntil), so the platform marked it failed. It may still have reached the phone.",
    "TEMPLATE_VERSION_NOT_FOUND": "The template, or the template version, does not exist.",
    "INVALID_DESTINATION": "The destination is not a valid phone number (E.164 normalisation failed).",
    "PILOT_SELF_NUMBER": "Sending to Pilot Status's own number is blocked.",
    "NEVER_ATTEMPTED_MAX_AGE_EXCEEDED": "Queued for 7 days and never attempted: the number "
    "stayed offline the whole time.",
    "EXPIRED_AFTER_ATTEMPTS": "The deadline (deliverUntil) passed after at least one real attempt.",
    "MESSAGE_EXPIRED": "Expired (legacy code).",
    "DELIVERY_TIMEOUT": "Timed out: the number was disconnected or closed, missing at the "
    "provider, or another failure without a more specific code.",
    "NUMBER_NOT_FOUND_REMOVED": "The connected number was removed at the provider.",
    "LINKED_WHATSAPP_INSTANCE_NOT_FOUND": "The API key points to a WhatsApp instance that no longer exists.",
    "WHATSAPP_NOT_EXIST": "The destination is not registered on WhatsApp.",
    "META_TEMPLATE_NOT_APPROVED": "Meta has not approved the template.",
    "META_OUTSIDE_24H_WINDOW": "The 24 h customer-service window is closed: send an approved template.",
    "META_NO_CONVERSATION": "No conversation with this number yet: start with a template.",
}
NEEDS_REVIEW = "Not in the documented list of codes: needs review (the list grows; read the error text)."


def error_meaning(code: str | None) -> tuple[str, bool]:
    """(what the code means, whether it is documented). No code: the text is all there is."""
    if not code:
        return "No error code was given; the error text is the only reason.", True
    meaning = ERROR_MEANINGS.get(code)
    return (meaning, True) if meaning else (NEEDS_REVIEW, False)


def _s(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


@compact_pickle
@dataclass(frozen=True, slots=True)
class Observation:
    """What one `message.*` event tells about its message."""

    event: str
    status: str
    outbound: bool
    msg_id: str | None  # Pilot Status internal id (data.id, C2: internalMessageId)
    correlation_id: str | None
    provider_id: str | None  # data.messageId
    quoted_id: str | None  # message.reply: provider id of the quoted message
    number_id: str | None
    peer: str | None  # the contact: `to` of an outbound message, `from` of an inbound one
    kind: str | None  # text, image, ...
    at: float | None  # event time (createdAt) as unix seconds
    error: str | None
    error_code: str | None
    text: str | None
    # message.reply: the quoted message's text (`contentReplied`). Not a column of
    # `messages`: the reply's raw event body keeps it (see `events.replied_text`).
    replied: str | None = None


def observe(obj: dict[str, Any]) -> Observation | None:
    """The lifecycle reading of an event, or None when it is not about a message."""
    event = obj.get("event")
    if event in _STATUS_OF_EVENT:
        status, outbound = _STATUS_OF_EVENT[event], True
    elif event in INBOUND_EVENTS:
        status, outbound = RECEIVED, False
    else:
        return None
    data = obj.get("data")
    d: dict[str, Any] = data if isinstance(data, dict) else {}
    msg_id, corr, provider = message_id_of(d), _s(d.get("correlationId")), _s(d.get("messageId"))
    if not (msg_id or corr or provider):
        return None  # nothing to follow it by
    failed = event == "message.failed"
    return Observation(
        event=event,
        status=status,
        outbound=outbound,
        msg_id=msg_id,
        correlation_id=corr,
        provider_id=provider,
        quoted_id=_s(d.get("quotedMessageId")) if not outbound else None,
        number_id=_s(d.get("numberId")),
        peer=_s(d.get("to")) if outbound else _s(d.get("from")),
        kind=_s(d.get("type"), 40),
        at=parse_time(_s(d.get("createdAt"))),
        error=failure_reason(d, 1000) if failed else None,  # C7: errorMessage too
        error_code=_s(d.get("errorCode"), 100) if failed else None,
        text=_s(d.get("content")) or _s(d.get("mediaCaption")),
        replied=_s(replied_text(d)) if event == "message.reply" else None,
    )


class MessageState(NamedTuple):
    """The projection of one message: everything the Messages table shows. A tuple, in the
    column order of `messages`: the writer builds one per step (10x cheaper than a
    frozen dataclass and `replace`) and reads it back from a row as it is."""

    outbound: bool
    status: str
    status_at: float  # event time (else arrival) of the step that gave the status
    msg_id: str | None = None
    correlation_id: str | None = None
    provider_id: str | None = None
    quoted_id: str | None = None
    number_id: str | None = None
    peer: str | None = None
    kind: str | None = None
    text: str | None = None
    first_at: float | None = None  # earliest event time seen
    sent_at: float | None = None
    delivered_at: float | None = None
    read_at: float | None = None
    failed_at: float | None = None
    error: str | None = None
    error_code: str | None = None
    steps: int = 0
    late: int = 0


def _earliest(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


def is_late(state: MessageState | None, obs: Observation) -> bool:
    """Arrived after a step it should come before: a status at or below the current one
    (e.g. SENT after DELIVERED), or anything but FAILED's own kind after a terminal status.
    Recorded on the timeline; never changes the status (`apply`)."""
    if state is None or not state.outbound:
        return False
    return RANK[obs.status] < RANK[state.status] or (state.status in TERMINAL and obs.status != state.status)


def apply(state: MessageState | None, obs: Observation, received_at: float) -> MessageState:
    """Fold one (new, not duplicate) event into the message's state. Order-independent in
    the final status and the step times; ids are filled in, never overwritten."""
    at = obs.at if obs.at is not None else received_at
    late = is_late(state, obs)
    s = state if state is not None else MessageState(obs.outbound, obs.status, at)
    kind = obs.status
    status, status_at = s.status, s.status_at
    if RANK[kind] > RANK[status] or (kind == status and at < status_at):
        status, status_at = kind, at
    sent_at, delivered_at, read_at, failed_at = s.sent_at, s.delivered_at, s.read_at, s.failed_at
    error, error_code = s.error, s.error_code
    if kind == SENT:
        sent_at = _earliest(sent_at, at)
    elif kind == DELIVERED:
        delivered_at = _earliest(delivered_at, at)
    elif kind == READ:
        read_at = _earliest(read_at, at)
    elif kind == FAILED:
        # Several failures (rare): the earliest keeps the reason, ties broken by the text,
        # so the arrival order does not matter.
        mine = (at, obs.error_code or "", obs.error or "")
        if failed_at is None or mine < (failed_at, error_code or "", error or ""):
            error, error_code = obs.error, obs.error_code
        failed_at = _earliest(failed_at, at)
    return MessageState(
        s.outbound,
        status,
        status_at,
        s.msg_id or obs.msg_id,
        s.correlation_id or obs.correlation_id,
        s.provider_id or obs.provider_id,
        s.quoted_id or obs.quoted_id,
        s.number_id or obs.number_id,
        s.peer or obs.peer,
        s.kind or obs.kind,
        s.text or obs.text,
        _earliest(s.first_at, at),
        sent_at,
        delivered_at,
        read_at,
        failed_at,
        error,
        error_code,
        s.steps + 1,
        s.late + late,
    )


def latency(start: float | None, end: float | None) -> float | None:
    """Seconds between two steps; None when either is missing or the clock went back."""
    if start is None or end is None or end < start:
        return None
    return end - start


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of unsorted values (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]
