"""How message statuses read in the Messages pane and the timeline (no widgets); times and
durations read as core.format writes them."""

from __future__ import annotations

from pilot_desktop.core.lifecycle import CANCELED, DELIVERED, FAILED, QUEUED, READ, RECEIVED, SENT
from pilot_desktop.store.read_models import MessageRow, StuckRules

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
