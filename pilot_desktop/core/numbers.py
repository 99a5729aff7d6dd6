"""Number connection and health: observations from webhooks and polls, and the rules that
fold them into one state per number (docs/architecture.md, state rules).

Pure functions. The newest observation wins, by the time it was true (the event's
`createdAt`, the status endpoint's `checkedAt`), not by when it arrived, so webhooks and
polls can interleave, repeat and come out of order and the final state is the same. An
older observation that disagrees is kept in the history flagged late. A stale reading
(the provider did not answer, or the list endpoint, which does not refresh connection
state, api §4.2/§4.4) only fills in a state we do not know yet.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from pilot_desktop.core.format import parse_time
from pilot_desktop.core.wire import compact_pickle

OPEN, CONNECTING, CLOSED, REMOVED, UNKNOWN = "OPEN", "CONNECTING", "CLOSED", "REMOVED", "UNKNOWN"
HEALTHY, DEGRADED, BLOCKED, SHADOWBAN = "healthy", "degraded", "blocked", "shadowban"
CONNECTION, HEALTH = "connection", "health"
WEBHOOK, POLL = "webhook", "poll"

# A tie on time: a webhook (a confirmed event) beats a poll; then a fixed order of states.
_SOURCE_RANK = {POLL: 0, WEBHOOK: 1}
_STATE_RANK = {
    UNKNOWN: 0,
    CONNECTING: 1,
    OPEN: 2,
    CLOSED: 3,
    REMOVED: 4,
    HEALTHY: 0,
    DEGRADED: 1,
    SHADOWBAN: 2,
    BLOCKED: 3,
}

_CONNECTION_EVENTS = {
    "number.created": CONNECTING,  # created, waiting for its QR pairing
    "number.connected": OPEN,
    "number.disconnected": CLOSED,
    "number.removed": REMOVED,
    "number.restored": CLOSED,  # api §4.6: it comes back disconnected
}
_HEALTH_EVENTS = {
    "number.health_blocked": BLOCKED,
    "number.health_degraded": DEGRADED,
    "number.health_shadowban": SHADOWBAN,
    "number.recovered": HEALTHY,
}


def connection_state(text: str | None) -> str:
    """The status endpoint's state; `CLOSE` (api §4.4, the .md page) is `CLOSED`."""
    state = (text or "").upper()
    if state == "CLOSE":
        return CLOSED
    return state if state in (OPEN, CONNECTING, CLOSED) else UNKNOWN


@dataclass(frozen=True, slots=True)
class NumberObservation:
    number_id: str
    kind: str  # connection | health
    state: str
    at: float  # when it was true
    source: str  # webhook | poll
    event: str  # the webhook's name, or poll:status / poll:list
    stale: bool = False
    error: str | None = None
    error_code: str | None = None
    phone: str | None = None
    name: str | None = None

    def key(self) -> tuple[float, int, int]:
        return (self.at, _SOURCE_RANK[self.source], _STATE_RANK.get(self.state, 0))


def _s(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def observe_event(obj: dict[str, Any], received_at: float) -> NumberObservation | None:
    """A `number.*` webhook (health events included: their payload is undocumented, so
    the state comes from the event's name, never from fields we might misread)."""
    event = obj.get("event")
    data = obj.get("data")
    d: dict[str, Any] = data if isinstance(data, dict) else {}
    number_id = _s(d.get("numberId"))
    if not isinstance(event, str) or number_id is None:
        return None
    if event in _CONNECTION_EVENTS:
        kind, state = CONNECTION, _CONNECTION_EVENTS[event]
    elif event in _HEALTH_EVENTS:
        kind, state = HEALTH, _HEALTH_EVENTS[event]
    else:
        return None
    at = parse_time(_s(d.get("createdAt")))
    return NumberObservation(
        number_id=number_id,
        kind=kind,
        state=state,
        at=received_at if at is None else at,
        source=WEBHOOK,
        event=event,
        error=_s(d.get("error")) or (_s(d.get("reason")) if kind == HEALTH else None),
        error_code=_s(d.get("errorCode")),
        phone=_s(d.get("phone")),
        name=_s(d.get("displayName")),
    )


def observe_status(
    number_id: str,
    state: str | None,
    polled_at: float,
    *,
    stale: bool = False,
    checked_at: str | None = None,
    last_known_at: str | None = None,
) -> NumberObservation:
    """`GET /v1/numbers/{id}/status` (api §4.4). A live reading is true at `checkedAt`
    (else when we asked); a stale one at `lastKnownAt`, and only fills in the unknown."""
    when = parse_time(last_known_at if stale else checked_at)
    return NumberObservation(
        number_id=number_id,
        kind=CONNECTION,
        state=connection_state(state),
        at=polled_at if when is None else min(when, polled_at),
        source=POLL,
        event="poll:status",
        stale=stale,
    )


def observe_listing(
    number_id: str, state: str | None, polled_at: float, *, event: str = "poll:list", **names: str | None
) -> NumberObservation:
    """A `GET /v1/numbers` item (or the `/v1/numbers/{id}` detail, `event` "poll:detail"):
    its state is not refreshed by the list (api §4.2): stale."""
    return NumberObservation(
        number_id=number_id,
        kind=CONNECTION,
        state=connection_state(state),
        at=polled_at,
        source=POLL,
        event=event,
        stale=True,
        phone=names.get("phone"),
        name=names.get("name"),
    )


@dataclass(frozen=True, slots=True)
class NumberState:
    number_id: str
    connection: str = UNKNOWN
    connection_at: float | None = None  # since when (event time)
    connection_source: str | None = None
    # The newest observation agreeing with the current state (time, source rank): what a
    # disagreeing observation must beat. Confirmations move it, not `connection_at`.
    connection_seen: float | None = None
    connection_rank: int = 0
    health: str = HEALTHY
    health_at: float | None = None
    health_seen: float | None = None
    health_rank: int = 0
    health_reason: str | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    phone: str | None = None
    name: str | None = None


@compact_pickle
@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a number's connection or health, as stored in its history."""

    number_id: str
    kind: str
    before: str
    after: str
    at: float
    source: str
    event: str
    late: bool  # older than the current state: recorded, not applied
    error: str | None = None
    error_code: str | None = None


def _current_key(state: NumberState, kind: str) -> tuple[float, int, int] | None:
    if kind == CONNECTION:
        if state.connection_seen is None:
            return None
        return (state.connection_seen, state.connection_rank, _STATE_RANK.get(state.connection, 0))
    if state.health_seen is None:
        return None
    return (state.health_seen, state.health_rank, _STATE_RANK.get(state.health, 0))


def _seen(state: NumberState, obs: NumberObservation) -> NumberState:
    rank = _SOURCE_RANK[obs.source]
    if obs.kind == CONNECTION:
        return replace(state, connection_seen=obs.at, connection_rank=rank)
    return replace(state, health_seen=obs.at, health_rank=rank)


def _restore_starts(state: NumberState, obs: NumberObservation) -> bool:
    return state.connection_source == POLL or state.connection_at is None or obs.at > state.connection_at


def _behind_polls(state: NumberState, obs: NumberObservation) -> bool:
    """Polls saying CLOSED never contradict a removal (a removed number is logged out), so
    an older removal or restore that only such polls outran still applies, as it would
    have in time order: `number.removed` over a CLOSED only polls have seen (the poller
    read the logged-out number before the platform's retry of the webhook came in), and
    `number.restored` after the removal over a REMOVED that polls kept confirming."""
    if state.connection_rank != _SOURCE_RANK[POLL]:
        return False
    if obs.state == REMOVED:  # over a CLOSED polls saw, or one a webhook started before it
        began_before = state.connection_at is not None and state.connection_at < obs.at
        return state.connection == CLOSED and (state.connection_source == POLL or began_before)
    return (
        obs.event == "number.restored"
        and state.connection == REMOVED
        and state.connection_at is not None
        and obs.at > state.connection_at
    )


def apply(state: NumberState | None, obs: NumberObservation) -> tuple[NumberState, Transition | None]:
    """Fold one observation in. Returns the new state and the transition to record, if
    the observation changed something or disagreed too late to change it."""
    state = state or NumberState(number_id=obs.number_id)
    state = replace(state, phone=state.phone or obs.phone, name=obs.name or state.name)
    if state.connection == REMOVED and obs.source == POLL and obs.state == CLOSED:
        # A removed number is logged out (api §4.6): polling it says CLOSED, which confirms
        # the removal. Only `number.restored` (or a reading of it connected) brings it back.
        obs = replace(obs, state=REMOVED)
    current = state.connection if obs.kind == CONNECTION else state.health
    known = _current_key(state, obs.kind)
    if obs.stale and (obs.kind != CONNECTION or state.connection != UNKNOWN):
        return state, None  # a remembered reading never overrides what we know
    newer = known is None or obs.key() > known
    behind = not newer and _behind_polls(state, obs)  # then the polls confirm it
    newer = newer or behind
    if obs.state == current:
        # A confirmation (or a repeat): no transition; a newer one moves the bar.
        if newer:
            state = _seen(state, obs)
            if obs.kind == CONNECTION and state.connection_at is None:
                state = replace(state, connection_at=obs.at, connection_source=obs.source)
        if obs.event == "number.restored" and _restore_starts(state, obs):
            # Disconnected since the restore: what polls saw is explained by it, and a
            # removal older than it must not apply over it (`_behind_polls`).
            state = replace(state, connection_at=obs.at, connection_source=WEBHOOK)
        return state, None
    transition = Transition(
        number_id=obs.number_id,
        kind=obs.kind,
        before=current,
        after=obs.state,
        at=obs.at,
        source=obs.source,
        event=obs.event,
        late=not newer,
        error=obs.error,
        error_code=obs.error_code,
    )
    if not newer:
        return state, transition
    state = state if behind else _seen(state, obs)
    if obs.kind == CONNECTION:
        state = replace(
            state,
            connection=obs.state,
            connection_at=obs.at,
            connection_source=obs.source,
            last_error=obs.error if obs.state == CLOSED else state.last_error,
            last_error_code=obs.error_code if obs.state == CLOSED else state.last_error_code,
        )
    else:
        state = replace(state, health=obs.state, health_at=obs.at, health_reason=obs.error)
    return state, transition


RESTORE_WINDOW_S = 30 * 24 * 3600  # api §4.6: a removed number is restorable for 30 days


def restorable_until(state: NumberState) -> float | None:
    """Until when a removed number can be restored (its removal + 30 days); None when it
    is not removed. The platform's own `restorableUntil` is only in the DELETE answer."""
    if state.connection != REMOVED or state.connection_at is None:
        return None
    return state.connection_at + RESTORE_WINDOW_S


def uptime(history: list[tuple[float, str]], since: float, now: float) -> float | None:
    """Share of [since, now] spent OPEN (changes in time order) over the time the state was
    known: UNKNOWN spans, time before the first state and a connecting span shorter than
    CONNECTING_SHOWN_S ending connected (a pairing: the strip's rule) are left out."""
    spans: list[Span] = []
    state, at = None, since
    for when, new in history:
        if when > now:
            break
        if when > since and state is not None:
            spans.append((max(at, since), when, state))
        state, at = new, max(when, since)
    if state is not None and now > at:
        spans.append((at, now, state))
    known = up = 0.0  # None when nothing is known; the Numbers pane and the CLI both show it
    for n, (start, end, st) in enumerate(spans):
        following = spans[n + 1][2] if n + 1 < len(spans) else None
        if st == UNKNOWN or (st == CONNECTING and following == OPEN and end - start < CONNECTING_SHOWN_S):
            continue
        known += end - start
        up += end - start if st == OPEN else 0.0
    return up / known if known > 0 else None


# A number connecting this long within a half hour shows amber (the strip's legend says
# so); shorter, it is the normal way to connected (a QR pairing, a reconnect).
CONNECTING_SHOWN_S = 60.0
Span = tuple[float, float, str]  # (from, to, connection state) within one slot


def strip_spans(
    history: list[tuple[float, str]], since: float, now: float, slots: int = 48
) -> list[list[Span]]:
    """Each slot of [since, now] as the known states in it, in time order (time before the
    first known state is left out: it is not a state)."""
    width = (now - since) / slots
    out: list[list[Span]] = []
    state: str | None = None  # the state at `at`
    at = since
    i = 0
    while i < len(history) and history[i][0] <= since:
        state = history[i][1]
        i += 1
    for n in range(slots):
        start, end = since + n * width, since + (n + 1) * width
        spans: list[Span] = []
        at = start
        while i < len(history) and history[i][0] < end:
            when, new = history[i]
            if state is not None and when > at:
                spans.append((at, when, state))
            state, at = new, max(when, start)
            i += 1
        if state is not None and end > at:
            spans.append((at, end, state))
        out.append(spans)
    return out


def slot_state(spans: list[Span]) -> str:
    """What a slot shows: any disconnection, however short; connecting for
    CONNECTING_SHOWN_S or more; removed; else connected; UNKNOWN only when nothing is known."""
    held: dict[str, float] = {}
    for start, end, state in spans:
        held[state] = held.get(state, 0.0) + (end - start)
    if CLOSED in held:
        return CLOSED
    if held.get(CONNECTING, 0.0) >= CONNECTING_SHOWN_S:
        return CONNECTING
    for state in (REMOVED, OPEN, CONNECTING):
        if state in held:
            return state
    return next(iter(held), UNKNOWN)


def strip(history: list[tuple[float, str]], since: float, now: float, slots: int = 48) -> list[str]:
    """What each slot of [since, now] shows (the 24 h uptime strip; slot_state's rule)."""
    return [slot_state(spans) for spans in strip_spans(history, since, now, slots)]


FLAP_MAX_DOWN = 10 * 60  # a drop shorter than this, then back: a flap


def flaps(history: list[tuple[float, str]], since: float, now: float) -> int:
    """Short drops (CLOSED, back OPEN within FLAP_MAX_DOWN) that began in [since, now]."""
    count = 0
    for (when, state), (back, after) in itertools.pairwise(history):
        if state == CLOSED and after == OPEN and since <= when <= now and back - when <= FLAP_MAX_DOWN:
            count += 1
    return count


def overall(states: list[NumberState]) -> tuple[str, str]:
    """The tray's colour and summary: ('ok' | 'warn' | 'down' | 'none', text)."""
    live = [s for s in states if s.connection != REMOVED]
    if not live:
        return "none", "No numbers yet"
    down = [s for s in live if s.connection == CLOSED]
    shaky = [s for s in live if s.connection in (CONNECTING, UNKNOWN) or s.health != HEALTHY]
    up = sum(s.connection == OPEN for s in live)
    text = f"{up} of {len(live)} numbers connected"
    if down:
        names = ", ".join(s.name or s.phone or s.number_id for s in down[:3])
        more = f" and {len(down) - 3} more" if len(down) > 3 else ""
        return "down", f"{text}; disconnected: {names}{more}"
    if shaky:
        return "warn", f"{text}; {len(shaky)} connecting or with a health warning"
    return "ok", text
