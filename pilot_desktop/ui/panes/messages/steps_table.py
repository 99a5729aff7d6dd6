"""The timeline's table of steps: event and arrival times, deliveries, notes. Steps read
back from the API are in italics with where they came from; steps not reached are greyed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from pilot_desktop.core.format import exact
from pilot_desktop.store.read_models import Timeline
from pilot_desktop.ui.panes.messages.marks import arrival_delay, reconstructed_note, step_name, step_note

STEP_COLUMNS = ("Step", "Event time", "Arrived", "Arrival delay", "Deliveries", "Note")


class StepsTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(STEP_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(STEP_COLUMNS))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.setMinimumHeight(112)  # the header and three steps, in a small window too
        hh = self.horizontalHeader()
        hh.setStretchLastSection(True)
        for i, width in enumerate((110, 180, 180, 170, 75)):
            hh.resizeSection(i, width)

    def fill(self, t: Timeline) -> None:
        self.blockSignals(True)
        self.clearContents()
        self.setRowCount(len(t.steps) + len(t.pending))
        for row, s in enumerate(t.steps):
            rebuilt = s.reconstructed is not None
            cells = (
                step_name(s.status) + (" (API)" if rebuilt else ""),
                exact(s.at) if s.at is not None else "(none in the payload)",
                exact(s.received_at),
                "(read back from the API)" if rebuilt else arrival_delay(s),
                f"×{s.deliveries}" if s.deliveries > 1 else "1",
                step_note(s),
            )
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, s.event_id)
                if rebuilt:  # never read as a delivered webhook
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                    item.setToolTip(reconstructed_note(s))
                if c == 1:
                    item.setToolTip(f"createdAt as sent: {s.event_time or '(none)'} (shown in local time)")
                self.setItem(row, c, item)
        for i, status in enumerate(t.pending):
            row = len(t.steps) + i
            receipts = status == "READ" and any("read receipts" in h for h in t.hints)
            hint = "read receipts may be off" if receipts else ""
            for c, value in enumerate((step_name(status), "pending", "", "", "", hint)):
                item = QTableWidgetItem(value)
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.setItem(row, c, item)
        self.blockSignals(False)

    def selected_event(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.item(rows[0].row(), 0)
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return int(value) if value is not None else None
