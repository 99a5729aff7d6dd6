"""How message statuses and times read in the Messages pane and the timeline (no widgets)."""

from __future__ import annotations

import time
from datetime import datetime

from pilot_desktop.core.lifecycle import CANCELED, DELIVERED, FAILED, QUEUED, READ, RECEIVED, SENT
from pilot_desktop.store.message_queries import MessageRow, StuckRules
from pilot_desktop.ui.format import duration as format_duration

# WhatsApp's own ticks, which operators already read at a glance.
STATUS_TEXT = {
    QUEUED: "◷ Queued",
    SENT: "✓ Sent",
    DELIVERED: "✓✓ Delivered",
    READ: "✓✓ Read",
    FAILED: "✕ Failed",
    CANCELED: "⊘ Canceled",
    RECEIVED: "↙ Received",
}
# Badge background; the text on it is white.
STATUS_COLOR = {
    QUEUED: "#a0aec0",
    SENT: "#718096",
    DELIVERED: "#3182ce",
    READ: "#2f855a",
    FAILED: "#c53030",
    CANCELED: "#4a5568",
    RECEIVED: "#6b46c1",
}
STATUS_HELP = {
    QUEUED: "Accepted by Pilot Status, not handed to WhatsApp yet",
    SENT: "Handed to WhatsApp; no delivery confirmation yet",
    DELIVERED: "On the contact's phone; not read yet (or their read receipts are off)",
    READ: "Read by the contact",
    FAILED: "Failed: see the error and what it means",
    CANCELED: "Canceled before it was sent",
    RECEIVED: "An inbound message from the contact",
}
STUCK_COLOR = "#dd6b20"
LATE_COLOR = "#b7791f"
PENDING_COLOR = "#a0aec0"


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status.title())


def status_color(status: str) -> str:
    return STATUS_COLOR.get(status, "#718096")


def duration(seconds: float | None) -> str:
    """A latency as the Delivery tab writes it; empty when there is none (a blank cell)."""
    return format_duration(seconds, missing="")


def when(ts: float | None, now: float | None = None) -> str:
    """A local time, as short as stays unambiguous: today '14:03:22', this year
    '24 Nov 14:03', else '2025-11-24 14:03' (the exact time is in the tooltip)."""
    if ts is None:
        return ""
    dt = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(now if now is not None else time.time())
    if dt.date() == today.date():
        return dt.strftime("%H:%M:%S")
    if dt.year == today.year:
        return dt.strftime("%d %b %H:%M")
    return dt.strftime("%Y-%m-%d %H:%M")


def exact(ts: float | None) -> str:
    """Local date and time with milliseconds, for tooltips and the timeline."""
    if ts is None:
        return "—"
    dt = datetime.fromtimestamp(ts)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def contact(row: MessageRow) -> str:
    """The other side with the direction: '→ +5511…' sent to, '← +5511…' received from."""
    arrow = "→" if row.outbound else "←"
    return f"{arrow} {row.peer or '(unknown)'}"


def stuck_for(row: MessageRow, rules: StuckRules, now: float) -> float | None:
    """Seconds the message has been stuck (StuckRules), or None when it is not."""
    limit = {QUEUED: rules.queued_after, SENT: rules.sent_after}.get(row.status)
    if limit is None or now - row.status_at <= limit:
        return None
    return now - row.status_at
