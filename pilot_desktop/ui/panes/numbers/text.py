"""Words and colours of the Numbers pane (pure functions, no widgets)."""

from __future__ import annotations

from datetime import datetime

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.lifecycle import parse_time
from pilot_desktop.core.numbers import (
    BLOCKED,
    CLOSED,
    CONNECTING,
    CONNECTION,
    DEGRADED,
    HEALTH,
    HEALTHY,
    OPEN,
    REMOVED,
    SHADOWBAN,
    UNKNOWN,
    NumberState,
)
from pilot_desktop.store.number_queries import DAY, NumberSummary, TransitionRow

STATE_LABEL = {
    OPEN: "Connected",
    CONNECTING: "Connecting",
    CLOSED: "Disconnected",
    REMOVED: "Removed",
    UNKNOWN: "State unknown",
}
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
HEALTH_MEANING = {
    HEALTHY: "No health warning from the platform.",
    DEGRADED: "Degraded: the platform sees delivery or quality problems; sending may slow down.",
    SHADOWBAN: "Shadowban: messages may be accepted but not delivered to contacts.",
    BLOCKED: "Blocked: the number cannot send.",
}
PROVIDER_LABEL = {"PILOT_STATUS": "Web (QR)", "META": "Meta Cloud API"}
LATE_NOTE = "(late: recorded, not applied)"
NO_ACCOUNT = "not readable: no account for this number"
KIND_LABEL = {CONNECTION: "Connection", HEALTH: "Health", "billing": "Billing"}
_BILLING_LABEL = {"ok": "sending allowed", "blocked": "sending blocked (unpaid)"}


def colour(state: str) -> str:
    return STATE_COLOUR.get(state, STATE_COLOUR[UNKNOWN])


def span(seconds: float) -> str:
    """How long, for people: 45 s, 12 min, 3 h 12 min, 2 d 4 h."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(whole // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def state_text(state: NumberState, now: float) -> str:
    """'Connected · 3 h 12 min': the connection state and for how long."""
    label = STATE_LABEL.get(state.connection, state.connection)
    if state.connection_at is None or state.connection == UNKNOWN:
        return label
    return f"{label} · {span(now - state.connection_at)}"


def local_time(ts: float, *, seconds: bool = False) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def clock_time(ts: float) -> str:
    """The time alone when it is today, else with the date."""
    when = datetime.fromtimestamp(ts)
    return when.strftime("%H:%M:%S" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S")


def local_iso(text: str | None) -> str:
    """A platform ISO time as local wall time; the text itself when it can't be read."""
    ts = parse_time(text)
    return local_time(ts) if ts is not None else (text or "")


def billing_text(blocked_since: str | None, disconnect_at: str | None) -> str | None:
    """The extra-number charge block (api §4.2), or None when sending is allowed."""
    if not blocked_since:
        return None
    text = f"Sending blocked since {local_iso(blocked_since)}: the extra-number charge is unpaid"
    if disconnect_at:
        text += f"; the number disconnects at {local_iso(disconnect_at)} unless it is paid"
    return text + "."


def percent(value: float | None) -> str:
    if value is None:
        return "–"
    shown = f"{value * 100:.1f}"
    return f"{'99.9' if shown == '100.0' and value < 1 else shown} %"


def uptime_text(s: NumberSummary, known_since: float | None, now: float) -> str:
    """Uptime over 24 h and 7 d, said over the time actually known when that is shorter
    (a number first seen a minute ago is not "up 10 % in 24 h")."""
    flaps = f"{s.flaps_24h} flap{'s' if s.flaps_24h != 1 else ''} in 24 h"
    if known_since is None or s.uptime_24h is None:
        return f"Uptime not known yet · {flaps}"
    known = now - known_since
    first = f"since first seen {span(known)} ago"
    if known < DAY - 60:
        return f"up {percent(s.uptime_24h)} {first} · {flaps}"
    if known < 7 * DAY - 60:
        return f"up {percent(s.uptime_24h)} in 24 h · {percent(s.uptime_7d)} {first} · {flaps}"
    return f"up {percent(s.uptime_24h)} in 24 h · {percent(s.uptime_7d)} in 7 d · {flaps}"


def provider_text(provider: str | None) -> str:
    return PROVIDER_LABEL.get(provider or "", provider or "provider unknown")


def health_tip(state: NumberState, now: float) -> str:
    lines = [HEALTH_MEANING.get(state.health, state.health)]
    if state.health_reason:
        lines.append(f"Reason: {state.health_reason}")
    if state.health_at is not None and state.health != HEALTHY:
        lines.append(f"Since {local_time(state.health_at)} ({span(now - state.health_at)} ago)")
    return "\n".join(lines)


def error_text(error: str | None, code: str | None) -> str:
    if error and code:
        return f"{error} ({code})"
    return error or code or ""


def change_text(row: TransitionRow) -> str:
    """'Connected → Disconnected', in the words of the row's kind."""
    if row.kind == CONNECTION:
        before, after = STATE_LABEL.get(row.before, row.before), STATE_LABEL.get(row.after, row.after)
    elif row.kind == "billing":
        before, after = _BILLING_LABEL.get(row.before, row.before), _BILLING_LABEL.get(row.after, row.after)
    else:
        before, after = row.before, row.after
    return f"{before} → {after}"


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
    return any(e == "*" or e.startswith("number.") for e in hook.events)


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
    if "*" in hook.events:
        events = "all events"
    else:
        events = f"{len(hook.events)} event{'s' if len(hook.events) != 1 else ''}"
    paused = "" if hook.active else ", paused"
    return f"{hook.name or hook.id} ({events}{paused})"
