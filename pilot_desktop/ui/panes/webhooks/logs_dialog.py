"""A webhook's delivery logs (what the platform says it sent) beside what was stored."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.core.format import duration
from pilot_desktop.services.webhook_logs import LogComparison
from pilot_desktop.ui.look import fit_to_window
from pilot_desktop.ui.panes.webhooks.columns import FitColumns, refit
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip, row_table
from pilot_desktop.ui.tasks import Tasks

COLUMNS = ("Time (UTC)", "Event", "Result", "HTTP", "Duration", "In this app")
_VERDICT_COLOUR = {"received": "#276749", "missing": "#c53030"}


class LogsDialog(QDialog):
    def __init__(
        self, parent: QWidget | None, title: str, load: Callable[[], Awaitable[LogComparison]]
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._load = load
        self._tasks = Tasks()
        self.comparison: LogComparison | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = row_table(COLUMNS)
        FitColumns(self.table, COLUMNS.index("Event"), least=140, share=0.4)
        self.table.itemSelectionChanged.connect(self._show_payload)
        self.payload = QPlainTextEdit(readOnly=True)
        self.payload.setPlaceholderText("Select a delivery to see its payload and the answer it got.")
        self.extra = QLabel()
        self.extra.setWordWrap(True)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.payload)
        split.setSizes([620, 380])
        self.strip = StatusStrip()
        reload = QPushButton("Reload")
        reload.clicked.connect(self.reload)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.strip, 1)
        buttons.addWidget(reload)
        buttons.addWidget(close)
        col = QVBoxLayout(self)
        col.addWidget(self.summary)
        col.addWidget(split, 1)
        col.addWidget(self.extra)
        col.addLayout(buttons)
        fit_to_window(self, parent, 1000, 560)

    def reload(self) -> None:
        if not self._tasks.busy:
            self._tasks.start(self._run())

    async def _run(self) -> None:
        self.strip.working("Loading delivery logs…")
        try:
            comparison = await self._load()
        except ApiError as exc:
            self.strip.error(exc)
            return
        self.strip.clear()
        self.show_comparison(comparison)

    def show_comparison(self, comparison: LogComparison) -> None:
        self.comparison = comparison
        self.table.setRowCount(len(comparison.checks))
        for row, check in enumerate(comparison.checks):
            entry = check.log
            took = duration(None if entry.duration_ms is None else entry.duration_ms / 1000, "")
            cells = (
                entry.created_at or "",
                entry.event,
                entry.status,
                "—" if entry.status_code is None else str(entry.status_code),
                took,
                check.verdict,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 5 and check.verdict in _VERDICT_COLOUR:
                    item.setForeground(QColor(_VERDICT_COLOUR[check.verdict]))
                self.table.setItem(row, col, item)
        refit(self.table)
        c = comparison.counts
        self.summary.setText(
            f"<b>{len(comparison.checks)}</b> recent deliveries (the platform keeps the last 50): "
            f"<b>{c['received']}</b> received here, <b style='color:#c53030'>{c['missing']}</b> missing "
            f"(the platform got a 2xx, but not from this app), {c['failed']} failed (the platform retries "
            f"those), <b>{c['extra']}</b> stored here but not in the logs."
        )
        if comparison.extra:
            listed = ", ".join(f"#{e['id']} {e['event']}" for e in comparison.extra[:10])
            more = f" and {len(comparison.extra) - 10} more" if len(comparison.extra) > 10 else ""
            self.extra.setText(
                f"Stored here on this webhook's route but not in its logs: {listed}{more} "
                "(older than the logs' window, or sent by another webhook to the same address)."
            )
        else:
            self.extra.setText("")

    def _show_payload(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.comparison is None:
            return
        entry = self.comparison.checks[rows[0].row()].log
        payload = json.dumps(entry.payload, indent=2, ensure_ascii=False)
        self.payload.setPlainText(f"{payload}\n\n— answer —\n{entry.response or ''}")

    async def settled(self) -> None:
        await self._tasks.settled()
