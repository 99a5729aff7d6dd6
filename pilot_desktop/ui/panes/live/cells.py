"""What each Live cell says and how it looks: events, refused deliveries and gap bands."""

from __future__ import annotations

import time

from PySide6.QtGui import QBrush, QColor

from pilot_desktop.core.catalogue import GROUP_LABELS
from pilot_desktop.core.format import clock, duration, elapsed, terminal_safe, when
from pilot_desktop.store.records import EventRow, Gap, RejectionRow
from pilot_desktop.ui.panes.refused.text import reason_line

COLUMNS = ("Time", "Event", "Number", "From", "To", "Summary", "Signature", "×")
RECONSTRUCTED_TIP = "reconstructed from the REST API after a gap, not a delivered webhook"

_SIGNATURE_TEXT = {
    "valid": "✔ valid",
    "unsigned": "unsigned",
    "unverified": "unverified",
    "invalid": "✘ invalid",
    "reconstructed": "↺ from API",
}
_GROUP_COLORS = {
    "status": "#2b6cb0",
    "inbound": "#2f855a",
    "number": "#b7791f",
    "call": "#6b46c1",
    "lead": "#c05621",
    "other": "#718096",
}
REFUSED = QColor("#c53030")
BAND = QBrush(QColor("#fdf0c8"))  # gap bands: amber, apart from the striped rows
BAND_TEXT = QBrush(QColor("#744210"))
GAP_KINDS = {
    "not_running": "Pilot Desktop was not running",
    "receiver_stopped": "the receiver was stopped",
}


# -- events ------------------------------------------------------------------------------
def event_display(row: EventRow, col: str) -> str:
    if col == "Time":
        return clock(row.received_at)
    if col == "Event":
        mark = " ⚠" if row.classification == "schema_issues" else ""
        return ("↺ " if row.signature == "reconstructed" else "") + row.event + mark
    if col == "Number":
        return row.number_id or ""
    if col == "From":
        return row.from_addr or ""
    if col == "To":
        return row.to_addr or ""
    if col == "Summary":
        return row.summary
    if col == "Signature":
        return _SIGNATURE_TEXT.get(row.signature, row.signature)
    return str(row.deliveries) if row.deliveries > 1 else ""


def event_foreground(row: EventRow, col: str) -> QBrush | None:
    if col == "Event":
        if row.classification == "schema_issues":
            return QBrush(QColor("#c53030"))
        return QBrush(QColor(_GROUP_COLORS.get(row.group, "#718096")))
    if col == "Signature" and row.signature == "valid":
        return QBrush(QColor("#2f855a"))
    if col == "Signature" and row.signature == "reconstructed":
        return QBrush(QColor("#6b46c1"))
    if col == "×" and row.deliveries > 1:
        return QBrush(QColor("#b7791f"))
    if row.event == "message.failed" and col == "Summary":
        return QBrush(QColor("#c53030"))
    return None


def event_tooltip(row: EventRow, col: str) -> str | None:
    if row.signature == "reconstructed" and col in ("Event", "Signature", "Time"):
        return RECONSTRUCTED_TIP
    if col == "Event":
        kind = {
            "valid": "matches the documented schema",
            "schema_issues": "known event with fields that do not match the schema (see details)",
            "unknown": "event name not in the documented catalogue; stored as received",
        }[row.classification]
        return f"{GROUP_LABELS.get(row.group, row.group)} — {kind}"
    if col == "×":
        return f"delivered {row.deliveries} time(s); retries are counted, not stored twice"
    if col == "Summary":
        return row.summary
    return None


# -- refused deliveries ------------------------------------------------------------------
def refusal_display(row: RejectionRow | None, col: str, at: float) -> str:
    if col == "Time":
        return clock(at)
    if row is None:  # trimmed from the store since the list was read
        return "⊘ refused" if col == "Event" else ""
    if col == "Event":
        return f"⊘ refused {row.status}"
    if col == "Number":
        return row.number_id or row.route or ""
    if col == "Summary":
        return reason_line(row)
    if col == "Signature":
        return "✘ refused" if row.status == 401 else ""
    return ""


def refusal_tooltip(row: RejectionRow | None, col: str) -> str | None:
    if row is None:
        return "a refused delivery no longer kept (the store keeps the newest 10,000)"
    if col == "Summary":
        return reason_line(row)
    return "refused: the receiver answered an error and stored nothing (double-click: Refused view)"


# -- gaps ----------------------------------------------------------------------------------
def gap_text(gap: Gap, now: float | None = None) -> str:
    """'Not receiving 17:02:11 → 17:09:40 (7 min 29 s) — Pilot Desktop was not running ·
    caught up: 12 steps of 5 messages restored from the API'."""
    why = (gap.reason or GAP_KINDS.get(gap.kind, gap.kind.replace("_", " "))).rstrip(".")
    if gap.ended_at is None:
        lasted = elapsed((time.time() if now is None else now) - gap.started_at)
        head = f"Not receiving since {when(gap.started_at, now)} ({lasted}), still not receiving"
    else:
        span = duration(gap.ended_at - gap.started_at)
        head = f"Not receiving {when(gap.started_at, now)} → {when(gap.ended_at, now)} ({span})"
    return f"{head} — {why}{_catch_up(gap)}"


def _catch_up(gap: Gap) -> str:
    if gap.ended_at is None:
        return ""
    if gap.caught_up_at is None:
        return " · not caught up through the API yet"
    summary = gap.catch_up or {}
    if summary.get("error"):
        return f" · catch-up failed: {summary['error']}"
    if summary.get("stopped"):  # services/catch_up.py: the run could not finish
        return f" · catch-up stopped: {terminal_safe(str(summary['stopped']))}"
    steps, msgs = summary.get("steps"), summary.get("messages_restored")
    if isinstance(steps, int) and isinstance(msgs, int):
        if steps == 0:
            return " · caught up: nothing was missing"
        step_s, msg_s = "" if steps == 1 else "s", "" if msgs == 1 else "s"
        return f" · caught up: {steps} step{step_s} of {msgs} message{msg_s} restored from the API"
    return " · caught up through the API"
