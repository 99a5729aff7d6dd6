"""What the tunnel box shows: its modes, its state line, the last probe, the program's last output
lines and the history of public URLs (seen, webhooks registered at them, moves that
failed), the last two in sections that fold away."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import exact, when
from pilot_desktop.store.watch_records import UrlRow
from pilot_desktop.tunnel.ngrok_sdk import MODE as NGROK_SDK
from pilot_desktop.tunnel.ngrok_sdk import wants_authtoken
from pilot_desktop.tunnel.providers import PRESETS, RETRIED, TunnelStatus
from pilot_desktop.ui.panes.webhooks.widgets import row_table

MODES: tuple[tuple[str, str], ...] = (
    ("manual", "Manual URL"),
    ("cloudflared", "cloudflared quick tunnel"),
    ("ngrok", "ngrok agent"),
    ("command", "Custom command"),
    ("ngrok-sdk", "ngrok in-process"),
)
MODE_NAMES = dict(MODES)
EXPLAIN = {
    "manual": "You run a tunnel yourself and paste its public URL below (Where Pilot Status delivers).",
    "cloudflared": "The app starts this with the receiver and reads the URL it prints (free, no "
    "account; the URL changes on every start, webhooks follow it):",
    "ngrok": "The app starts the ngrok agent with the receiver (installed and logged in: "
    "ngrok config add-authtoken …):",
    "command": "The app starts your command with the receiver and reads the first public URL "
    "it prints. {port} and {local_url} are filled in.",
    "ngrok-sdk": "ngrok runs inside the app (pip install 'pilot-desktop[ngrok]') with your "
    "authtoken from dashboard.ngrok.com.",
}
STATE_COLORS = {"up": "#2f855a", "starting": "#b7791f", "restarting": "#b7791f", "failed": "#c53030"}
HISTORY_COLUMNS = ("When", "Public URL", "What")
HISTORY_SHOWN = 50

if TYPE_CHECKING:
    from pilot_desktop.services.reachability import Reach
FAILED = QColor("#c53030")


def state_html(status: TunnelStatus) -> str:
    """State · public URL · pid · restarts · since, as rich text."""
    managed = status.mode != "manual"
    color = STATE_COLORS.get(status.state, "#718096")
    parts = [
        f"<b style='color: {color}'>{status.state}</b>" if managed else "<b>manual</b> (you run the tunnel)"
    ]
    if status.public_url:
        parts.append(f"<code>{html.escape(status.public_url)}</code>")
    elif managed:
        parts.append("no public URL yet")
    if status.pid is not None:
        parts.append(f"pid {status.pid}")
    if status.restarts:
        parts.append(f"restarted {status.restarts}×")
    if status.since is not None and managed:
        parts.append(f"since {when(status.since)}")
    return "State: " + " · ".join(parts)


def error_text(status: TunnelStatus) -> str:
    """Why the tunnel failed or restarts; a preset's install hint when it failed."""
    error = status.error or ""
    preset = PRESETS.get(status.mode)
    if status.state == "failed" and preset is not None and preset.install_hint not in error:
        error = f"{error} {preset.install_hint}".strip()
    # The tunnel layer says what to fix; how to, in this window, is said here (the CLI has its own).
    if status.state == "failed" and RETRIED not in error:
        if status.mode == NGROK_SDK and wants_authtoken(status.error):
            error += " Enter it in the authtoken field above: the tunnel starts again with it."
        else:
            error += " Then press Restart tunnel."
    return error


def reach_text(reach: Reach, public_url: str | None) -> tuple[str, bool | None]:
    """The last probe through the public URL in a line, and whether it was ok (None: not
    checked; a probe of another URL than today's says nothing about it)."""
    last = reach.last
    if not public_url:
        return "Not checked: no public URL yet.", None
    if last is None or last.public_url != public_url:
        return f"Not checked yet through {public_url}.", None
    ms = f" · {last.latency_ms:.0f} ms" if last.ok and last.latency_ms is not None else ""
    head = "Reachable" if last.ok else ("Unreachable" if reach.state == "unreachable" else "Probe failed")
    tail = "" if last.ok else f" [{last.diagnosis}]"
    return f"{head}{ms} ({when(last.at)}): {last.sentence}{tail}", last.ok


class Collapsible(QWidget):
    """A title with an arrow that shows or hides `body`."""

    def __init__(self, title: str, body: QWidget, *, open_: bool = False) -> None:
        super().__init__()
        self.body = body
        self.toggle = QToolButton()
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.setCheckable(True)
        self.toggle.setChecked(open_)
        self.toggle.toggled.connect(self._show)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.toggle)
        col.addWidget(body)
        self.set_title(title)
        self._show(open_)

    def set_title(self, title: str) -> None:
        self.toggle.setText(title)

    def _show(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.body.setVisible(open_)

    @property
    def is_open(self) -> bool:
        return self.toggle.isChecked()


class OutputView(QPlainTextEdit):
    MAX_LINES_SHOWN = 12

    """The tunnel program's last lines: monospace, selectable, never edited."""

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setPlaceholderText("Nothing printed yet.")
        self._fit(0)
        self._lines: tuple[str, ...] = ()

    def show_lines(self, lines: Sequence[str]) -> None:
        lines = tuple(lines)
        if lines == self._lines:
            return  # keep the reader's selection and scroll position
        self._lines = lines
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.setPlainText("\n".join(lines))
        self._fit(len(lines))
        if at_end:
            bar.setValue(bar.maximum())

    def _fit(self, lines: int) -> None:
        """As tall as its lines (up to MAX_LINES_SHOWN, then it scrolls)."""
        shown = min(max(lines, 2), self.MAX_LINES_SHOWN)
        self.setFixedHeight(shown * self.fontMetrics().lineSpacing() + 2 * self.frameWidth() + 28)


def what_happened(row: UrlRow) -> str:
    """One history row in words: seen / registered webhook X / failed."""
    if row.kind == "seen":
        return f"seen ({row.source})"
    if row.kind == "registered":
        return f"registered webhook {row.webhook_id} ({row.source})"
    if row.kind == "repoint_failed":
        return f"failed to move webhook {row.webhook_id}: {row.detail or 'no reason given'}"
    return f"{row.kind} ({row.source})"


def _tip(row: UrlRow) -> str:
    lines = [f"{exact(row.at)}: {what_happened(row)}"]
    if row.number_id:
        lines.append(f"number {row.number_id}")
    if row.old_url:
        lines.append(f"moved from {row.old_url}")
    return "\n".join(lines)


def history_table() -> QTableWidget:
    table = row_table(HISTORY_COLUMNS)
    table.setWordWrap(False)
    table.setMinimumHeight(120)
    table.setMaximumHeight(220)
    return table


def fill_history(table: QTableWidget, rows: Sequence[UrlRow]) -> None:
    rows = list(rows)[:HISTORY_SHOWN]
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        cells = (when(row.at), row.public_url or "", what_happened(row))
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(_tip(row))
            if row.kind == "repoint_failed":
                item.setForeground(FAILED)
            table.setItem(i, col, item)
    table.resizeColumnToContents(0)
    table.resizeColumnToContents(1)


def row_of(*widgets: QWidget, stretch: int | None) -> QWidget:
    """Widgets side by side; `stretch`: the index of the one taking the room left."""
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if i == stretch else 0)
    if stretch is None:
        row.addStretch(1)
    return holder
