"""The Refused table: the refused requests of the chosen period, newest first.

At most REFUSALS_SHOWN rows (the store keeps as many), held as rows: small records.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from pilot_desktop.core.format import clock, number_short, number_tip
from pilot_desktop.store.read_models import NumberNames
from pilot_desktop.store.records import RejectionRow
from pilot_desktop.ui.panes.refused.text import body_label, hint, reason_line, route_label, shown_path

COLUMNS = ("Time", "Status", "Route", "Number", "Reason", "Body")
ID_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex
_RED = QColor("#c53030")


class RefusedModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[RejectionRow] = []
        self.numbers: NumberNames = {}

    def set_rows(self, rows: list[RejectionRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_of(self, rejection_id: int) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.id == rejection_id), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        col = COLUMNS[index.column()]
        if role == ID_ROLE:
            return row.id
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, col, self.numbers)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row, col, self.numbers)
        if role == Qt.ItemDataRole.ForegroundRole and col == "Status":
            return QBrush(_RED)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in ("Status", "Body"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _display(row: RejectionRow, col: str, numbers: NumberNames) -> str:
    if col == "Time":
        return clock(row.received_at)
    if col == "Status":
        return str(row.status)
    if col == "Route":
        return route_label(row) if row.delivery else f"{row.method} {shown_path(row.path)}"
    if col == "Number":
        return number_short(row.number_id, numbers) if row.number_id else ""
    if col == "Reason":
        return reason_line(row)
    return body_label(row)


def _tooltip(row: RejectionRow, col: str, numbers: NumberNames) -> str | None:
    if col == "Number" and row.number_id:
        return number_tip(row.number_id, numbers)
    if col == "Route":
        return f"{row.method} {shown_path(row.path)}" + (f" from {row.remote}" if row.remote else "")
    if col == "Reason":
        return reason_line(row) if hint(row) else row.reason
    return None
