"""Small widgets the pane and its dialogs share: progress and errors in place, row tables."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QTableWidget,
    QWidget,
)

from pilot_desktop.api.errors import ApiError

_ERROR = "background: #fed7d7; color: #742a2a; border: 1px solid #fc8181; border-radius: 4px; padding: 6px;"
_OK = "background: #c6f6d5; color: #22543d; border: 1px solid #68d391; border-radius: 4px; padding: 6px;"
_WARN = "background: #feebc8; color: #7b341e; border: 1px solid #f6ad55; border-radius: 4px; padding: 6px;"


class StatusStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # indeterminate: the API gives no progress to show
        self.progress.setMaximumWidth(120)
        self.progress.setMaximumHeight(14)
        self.busy_label = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress)
        row.addWidget(self.busy_label)
        row.addWidget(self.message, 1)
        self.idle()
        self.message.hide()

    @property
    def warned(self) -> bool:
        """A warning is shown (not an error, a success or progress)."""
        return self.message.isVisibleTo(self) and self.message.property("kind") == "warn"

    @property
    def code(self) -> str:
        return str(self.message.property("code") or "")

    def working(self, text: str) -> None:
        self.progress.show()
        self.busy_label.setText(text)
        self.busy_label.show()
        self.message.hide()

    def idle(self) -> None:
        self.progress.hide()
        self.busy_label.hide()

    def error(self, exc: Exception | str) -> None:
        self._show(_ERROR, str(exc), exc.code if isinstance(exc, ApiError) else "", "error")

    def ok(self, text: str) -> None:
        self._show(_OK, text, "", "ok")

    def warn(self, text: str) -> None:
        self._show(_WARN, text, "", "warn")

    def clear(self) -> None:
        self.idle()
        self.message.hide()
        self.message.setProperty("code", "")

    def _show(self, style: str, text: str, code: str, kind: str) -> None:
        self.idle()
        self.message.setProperty("kind", kind)
        self.message.setStyleSheet(style)
        self.message.setText(text)
        self.message.setProperty("code", code)
        self.message.show()


def row_table(columns: tuple[str, ...]) -> QTableWidget:
    """A read-only table selecting one whole row at a time."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    return table


def number_list() -> QListWidget:
    """The pane's list of numbers: a long name is elided at the end (whole in its tooltip),
    never scrolled sideways."""
    numbers = QListWidget()
    numbers.setMinimumWidth(130)
    numbers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    numbers.setTextElideMode(Qt.TextElideMode.ElideRight)
    return numbers


def delete_box(parent: QWidget, name: str) -> QMessageBox:
    """'Delete the webhook …?' with Delete and Cancel, Cancel the default."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Delete webhook")
    box.setText(f"Delete the webhook '{name}'?")
    box.setInformativeText(
        "This is permanent on Pilot Status and also deletes its delivery logs. "
        "To stop deliveries for a while, Pause it instead."
    )
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Yes).setText("Delete")
    return box
