"""How message statuses read in the Messages pane and the timeline (no widgets); times and
durations read as core.format writes them."""

from __future__ import annotations

from datetime import datetime

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


CHAT_WORD = {"group": "group", "channel": "channel"}


def field_of(row: MessageRow, col: str) -> str:
    """The webhook field a cell shows: the contact is `to` on a send, `from` on a receipt."""
    if col == "Contact":
        return "to" if row.outbound else "from"
    return "type"


def field_issue(row: MessageRow, name: str) -> str | None:
    """The schema issue of `data.<name>` in the message's webhooks, if any."""
    prefix = f"$.data.{name}:"
    for line in row.issues:
        if line.startswith(prefix):
            return line
    return None


def _who(row: MessageRow, names: dict[str, str]) -> str:
    name = row.name if not row.outbound else names.get(row.peer or "")
    if row.peer is None:
        issue = field_issue(row, field_of(row, "Contact"))
        return f"⚠ invalid “{field_of(row, 'Contact')}”" if issue else "(not given)"
    if row.chat is not None and row.peer == row.chat_name:
        return f"{CHAT_WORD[row.chat]} {row.peer}"  # a send to the group itself
    return f"{name} · {row.peer}" if name else row.peer


def contact(row: MessageRow, names: dict[str, str] | None = None) -> str:
    """The other side with the direction: '→ +5511…' sent to, '← Mariana · +5511…' received
    from (the name a webhook carried), and where it was posted: '· group Loja Centro'."""
    arrow = "→" if row.outbound else "←"
    text = f"{arrow} {_who(row, names or {})}"
    if row.chat is not None and row.chat_name and row.chat_name != row.peer:
        text += f" · {CHAT_WORD[row.chat]} {row.chat_name}"
    return text


def contact_tip(row: MessageRow, names: dict[str, str] | None = None) -> str:
    lines = [contact(row, names)]
    if row.chat is not None:
        where = "a group" if row.chat == "group" else "a channel (newsletter)"
        lines.append(f"Posted in {where}: {row.chat_name or '(name not given)'}")
    if row.peer is None and (issue := field_issue(row, field_of(row, "Contact"))):
        lines.append(f"⚠ The webhook's contact field did not match the schema: {issue}")
    return "\n".join(lines)


def stuck_for(row: MessageRow, rules: StuckRules, now: float) -> float | None:
    """Seconds the message has been stuck (StuckRules), or None when it is not."""
    limit = {QUEUED: rules.queued_after, SENT: rules.sent_after}.get(row.status)
    if limit is None or now - row.status_at <= limit:
        return None
    return now - row.status_at


HEADER_TIPS = {
    "Status": "Current status. It only moves forward: a late, older status never downgrades it",
    "Created": "Time of the message's first event (createdAt), local time; with the date when "
    "the rows span more than today",
    "Contact": "→ sent to, ← received from; the contact's name when a webhook carried it "
    "(participantName); group and channel posts say so",
    "Sent→Delivered": "From message.sent to message.delivered (event times)",
    "Delivered→Read": "From message.delivered to message.read (event times)",
    "Replies": "Inbound replies linked to this message",
    "Error": "errorCode of message.failed (hover for what it means)",
    "Notes": "late: a status arrived after a later one · dup: retried deliveries · stuck: "
    "no progress past the deadline · reply: answers one of your messages · ⚠ schema: a webhook "
    "did not match the schema (hover for what)",
    "Text": "Text or caption; 'content not retained' when the platform sent none (a PII mode)",
}
SORT_HINT = "\n\nClick to sort the rows loaded; Created (newest first) is the live order."


def dated(ts: float) -> str:
    """Created with its date, for a list spanning days: '3 Dec 23:59:02'."""
    dt = datetime.fromtimestamp(ts)
    if dt.year != datetime.now().year:
        return f"{dt:%Y-%m-%d %H:%M:%S}"
    return f"{dt.day} {dt:%b} {dt:%H:%M:%S}"
