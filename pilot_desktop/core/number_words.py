"""A number's state in the words the operator reads, the same in the window and the CLI.

The Numbers pane (ui/panes/numbers/text.py re-exports these) and `pilot-desktop numbers`
both call them, so a number is "Connected" or "Disconnected" wherever it is shown.
"""

from __future__ import annotations

from pilot_desktop.core.catalogue import META, PILOT_STATUS
from pilot_desktop.core.format import elapsed
from pilot_desktop.core.numbers import (
    BLOCKED,
    CLOSED,
    CONNECTING,
    CONNECTION,
    DEGRADED,
    HEALTHY,
    OPEN,
    POLL,
    REMOVED,
    SHADOWBAN,
    UNKNOWN,
    NumberState,
)

STATE_LABEL = {
    OPEN: "Connected",
    CONNECTING: "Connecting",
    CLOSED: "Disconnected",
    REMOVED: "Removed",
    UNKNOWN: "State unknown",
}
HEALTH_MEANING = {
    HEALTHY: "No health warning from the platform.",
    DEGRADED: "Degraded: the platform sees delivery or quality problems; sending may slow down.",
    SHADOWBAN: "Shadowban: messages may be accepted but not delivered to contacts.",
    BLOCKED: "Blocked: the number cannot send.",
}
PROVIDER_LABEL = {PILOT_STATUS: "Web (QR)", META: "Meta Cloud API"}
LATE_NOTE = "(late: recorded, not applied)"
KIND_LABEL = {CONNECTION: "Connection", "health": "Health", "billing": "Billing"}
BILLING_LABEL = {"ok": "sending allowed", "blocked": "sending blocked (unpaid)"}


def state_label(connection: str) -> str:
    """'Connected', 'Disconnected' ... (the stored state itself when it is a new one)."""
    return STATE_LABEL.get(connection, connection)


def shows_health(state: NumberState) -> bool:
    """Whether the health is shown: a warning always; "healthy" only while connected. A
    number that is not connected is not healthy, whatever the platform's health flag says
    (the Numbers pane's pill, `pilot-desktop numbers`' HEALTH and its JSON `health`)."""
    return state.health != HEALTHY or state.connection == OPEN


def since_known(state: NumberState, entered_from: str | None = None) -> bool:
    """Whether the time the state began is known. A webhook tells it; a poll that saw a
    change from a known state dates it (within a poll interval); a poll's first reading
    (over no known state: `entered_from` UNKNOWN or nothing recorded) says only that the
    state held then, not since when: its "for" is unknown, never "0 s"."""
    if state.connection_at is None or state.connection == UNKNOWN:
        return False
    return state.connection_source != POLL or entered_from not in (None, UNKNOWN)


def state_text(state: NumberState, now: float, entered_from: str | None = None) -> str:
    """'Connected · 3 h 12 min': the connection state and for how long (when known)."""
    label = state_label(state.connection)
    if state.connection_at is None or not since_known(state, entered_from):
        return label
    return f"{label} · {elapsed(now - state.connection_at)}"


def provider_text(provider: str | None) -> str:
    return PROVIDER_LABEL.get(provider or "", provider or "provider unknown")


def change_words(kind: str, before: str, after: str) -> str:
    """'Connected → Disconnected', in the words of the transition's kind."""
    if kind == CONNECTION:
        before, after = state_label(before), state_label(after)
    elif kind == "billing":
        before, after = BILLING_LABEL.get(before, before), BILLING_LABEL.get(after, after)
    return f"{before} → {after}"
