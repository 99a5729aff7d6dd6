"""Words and colours of the Numbers pane (pure functions, no widgets)."""

from __future__ import annotations

import html

import httpx

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import ALL_EVENTS
from pilot_desktop.core.format import age, percent, when, when_iso

# The state's words live in core (the CLI's `numbers` says them too); re-exported here.
from pilot_desktop.core.number_words import (  # noqa: F401
    HEALTH_MEANING,
    KIND_LABEL,
    LATE_NOTE,
    PROVIDER_LABEL,
    STATE_LABEL,
    change_words,
    provider_text,
    state_text,
)
from pilot_desktop.core.numbers import (
    BLOCKED,
    CLOSED,
    CONNECTING,
    DEGRADED,
    HEALTHY,
    OPEN,
    REMOVED,
    SHADOWBAN,
    UNKNOWN,
    NumberState,
)
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.store.read_models import DAY, NumberSummary, TransitionRow
from pilot_desktop.ui.refusal_watch import Concern, route_words, window_words

# The strip's and the state's colours: green up, amber connecting, red down, grey unknown.
STATE_COLOUR = {
    OPEN: "#38a169",
    CONNECTING: "#d69e2e",
    CLOSED: "#e53e3e",
    REMOVED: "#718096",
    UNKNOWN: "#cbd5e0",
}
# Health badges: (background, text).
HEALTH_COLOURS = {
    HEALTHY: ("#c6f6d5", "#22543d"),
    DEGRADED: ("#feebc8", "#7b341e"),
    SHADOWBAN: ("#e9d8fd", "#44337a"),
    BLOCKED: ("#fed7d7", "#742a2a"),
}
NO_ACCOUNT = "not readable: no account for this number"


def colour(state: str) -> str:
    return STATE_COLOUR.get(state, STATE_COLOUR[UNKNOWN])


def billing_text(blocked_since: str | None, disconnect_at: str | None) -> str | None:
    """The extra-number charge block (api §4.2), or None when sending is allowed."""
    if not blocked_since:
        return None
    text = f"Sending blocked since {when_iso(blocked_since)}: the extra-number charge is unpaid"
    if disconnect_at:
        text += f"; the number disconnects at {when_iso(disconnect_at)} unless it is paid"
    return text + "."


def uptime_text(s: NumberSummary, known_since: float | None, now: float) -> str:
    """Uptime over 24 h and 7 d, said over the time actually known when that is shorter
    (a number first seen a minute ago is not "up 10 % in 24 h")."""
    flaps = f"{s.flaps_24h} flap{'s' if s.flaps_24h != 1 else ''} in 24 h"
    if known_since is None or s.uptime_24h is None:
        return f"Uptime not known yet · {flaps}"
    known = now - known_since
    first = f"since first seen {age(known_since, now)}"
    if known < DAY - 60:
        return f"up {percent(s.uptime_24h)} {first} · {flaps}"
    if known < 7 * DAY - 60:
        return f"up {percent(s.uptime_24h)} in 24 h · {percent(s.uptime_7d)} {first} · {flaps}"
    return f"up {percent(s.uptime_24h)} in 24 h · {percent(s.uptime_7d)} in 7 d · {flaps}"


def health_tip(state: NumberState, now: float) -> str:
    lines = [HEALTH_MEANING.get(state.health, state.health)]
    if state.health_reason:
        lines.append(f"Reason: {state.health_reason}")
    if state.health_at is not None and state.health != HEALTHY:
        lines.append(f"Since {when(state.health_at, now)} ({age(state.health_at, now)})")
    return "\n".join(lines)


def error_text(error: str | None, code: str | None) -> str:
    if error and code:
        return f"{error} ({code})"
    return error or code or ""


def change_text(row: TransitionRow) -> str:
    """'Connected → Disconnected', in the words of the row's kind."""
    return change_words(row.kind, row.before, row.after)


def source_text(row: TransitionRow) -> str:
    """webhook, or poll (status) / poll (list); the event's name is the cell's tooltip."""
    if row.source == "poll":
        return f"poll ({row.event.removeprefix('poll:')})"
    return "webhook"


def note_text(row: TransitionRow) -> str:
    parts = [LATE_NOTE] if row.late else []
    if err := error_text(row.error, row.error_code):
        parts.append(err)
    return "  ".join(parts)


def carries_number_events(hook: Webhook) -> bool:
    return any(e == ALL_EVENTS or e.startswith("number.") for e in hook.events)


def webhooks_text(hooks: list[Webhook]) -> str:
    """One line for a card: how many webhooks, and whether number events reach anyone."""
    if not hooks:
        return "No webhook: states come from polling only"
    word = "webhook" if len(hooks) == 1 else "webhooks"
    carrying = sum(carries_number_events(h) for h in hooks)
    if carrying == 0:
        return f"{len(hooks)} {word}, none with number events: states come from polling only"
    return f"{len(hooks)} {word} ({carrying} with number events)"


def webhook_line(hook: Webhook) -> str:
    if ALL_EVENTS in hook.events:
        events = "all events"
    else:
        events = f"{len(hook.events)} event{'s' if len(hook.events) != 1 else ''}"
    paused = "" if hook.active else ", paused"
    return f"{hook.name or hook.id} ({events}{paused})"


# Meta health (GET /v1/numbers/{id} `health`): the value sets are not documented (api G15),
# so an unknown rating is shown as given, in the neutral colour.
QUALITY_COLOUR = {"GREEN": "#276749", "YELLOW": "#975a16", "RED": "#c53030"}
PII_WORDS = {
    "RELAY_ONLY": "relay only — message content is not kept by the platform",
    "STORE_X_DAYS": "kept for a limited number of days, then deleted by the platform",
    "STORE_INDEFINITE": "kept by the platform",
}
REFUSED_COLOUR = "#c53030"


# How a reading older than the current state is said: "..., before it connected".
BECAME = {
    OPEN: "it connected",
    CONNECTING: "it began connecting",
    CLOSED: "it disconnected",
    REMOVED: "it was removed",
}


def detail_behind(s: NumberSummary) -> bool:
    """The number's detail (Meta health, `sendable`) was read before its current connection
    state began (a webhook said Connected after the poll read it Connecting): it describes
    the number as it was then, so it is never shown as a fact beside the current state."""
    since = s.state.connection_at
    return s.detail_at is not None and since is not None and s.detail_at < since


def as_of_words(s: NumberSummary, now: float | None = None) -> str:
    """'as of the check at 00:17:44, before it connected'."""
    became = BECAME.get(s.state.connection, "its state changed")
    return f"as of the check at {when(s.detail_at, now)}, before {became}"


def _stale_health_html(s: NumberSummary, now: float | None) -> str | None:
    """The old reading in neutral italics, said to be old: no red, no green."""
    parts = [f"quality {s.quality_rating}" if s.quality_rating else "", s.messaging_tier or ""]
    if s.sendable is not None:
        parts.append("sendable" if s.sendable else "not sendable")
    said = " · ".join(p for p in parts if p)
    if not said:
        return None
    words = f"{as_of_words(s, now)}: {said} (read again at the next poll)"
    return f"<i>{html.escape(words[0].upper() + words[1:])}</i>"


def meta_health_html(s: NumberSummary, *, sendable_too: bool = True, now: float | None = None) -> str | None:
    """'Quality RED · tier TIER_1K · not sendable' (rich text, coloured), or None when the
    number's detail carried no Meta health. `sendable_too=False` says only "not sendable".
    A detail read before the current state began is said as such (`detail_behind`)."""
    if detail_behind(s):
        return _stale_health_html(s, now)
    parts = []
    if s.quality_rating:
        tint = QUALITY_COLOUR.get(s.quality_rating.upper(), "palette(text)")
        parts.append(f"Quality <b style='color: {tint}'>{html.escape(s.quality_rating)}</b>")
    if s.messaging_tier:
        parts.append(f"tier {html.escape(s.messaging_tier)}")
    if s.sendable is False:
        parts.append(f"<b style='color: {REFUSED_COLOUR}'>not sendable</b>")
    elif s.sendable is True and sendable_too:
        parts.append("sendable")
    return " · ".join(parts) if parts else None


def pii_text(pii_mode: str | None) -> str | None:
    """'PII: relay only — message content is not kept by the platform', or None when unknown."""
    if not pii_mode:
        return None
    return f"PII: {PII_WORDS.get(pii_mode, pii_mode)}"


def refused_text(concern: Concern, window_s: float) -> str:
    """'⊘ 12 deliveries refused in 5 min (401): signed with a different secret'."""
    word = "delivery" if concern.count == 1 else "deliveries"
    return (
        f"⊘ {concern.count_text} {word} refused in {window_words(window_s)} "
        f"({concern.status_text}): {concern.short}"
    )


def refused_tip(concern: Concern) -> str:
    """The newest refusal's route, reason and hint, and where to see them all."""
    latest = concern.latest
    lines = [f"Latest: {latest.status} on {route_words(latest.route)}: {latest.reason}"]
    if latest.hint:
        lines.append(latest.hint)
    lines.append("The status bar's red count opens the Refused view.")
    return "\n".join(lines)


# The pane before any number is known.
EMPTY = (
    "<h3>Your numbers appear here</h3>"
    "<p>Each WhatsApp number shows up with its first <code>number.*</code> webhook (created, "
    "connected, disconnected, …) or its first status poll: its connection state and since when, "
    "a 24-hour uptime strip, its health, and the history of its connections.</p>"
    "<p>{polling}</p>"
    "<p>To add an account, or to subscribe a number to number events so disconnections show "
    "the moment they happen, use the Webhooks tab.</p>"
)


def hooks_problem(exc: Exception) -> str:
    """Why a number's webhooks could not be read, in a few words."""
    if isinstance(exc, AccountError):
        return NO_ACCOUNT
    if isinstance(exc, httpx.HTTPError):
        return f"could not reach the API ({exc})"
    return f"could not be read: {exc}"
