"""The look shared by the app's tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QTableWidget, QWidget


def set_up_row_list(
    table: QTableView, columns: Sequence[str], widths: dict[str, int], stretch: str, row_height: int
) -> None:
    """A list of rows to pick one from: whole rows selected, striped, no grid, the model's
    own order (filters and order are the store's job), rows of one fixed height (fast to
    lay out for millions), `stretch` taking the spare width, the others at `widths`."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.setSortingEnabled(False)
    vh = table.verticalHeader()
    vh.hide()
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(row_height)
    hh = table.horizontalHeader()
    hh.setHighlightSections(False)
    for i, name in enumerate(columns):
        if name == stretch:
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch)
        else:
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
            hh.resizeSection(i, widths[name])


def read_only_table(columns: Sequence[str], row_height: int = 22) -> QTableWidget:
    """A small table of figures or history rows: not editable, whole rows selected,
    striped, no grid, no row numbers."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(row_height)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    return table


def move_selection(table: QTableView, step: int, *, newest_last: bool) -> None:
    """J/K: select the next or previous row; with none selected, start from the newest
    (the bottom row when the newest is last, else just above the top one)."""
    n = table.model().rowCount()
    if n:
        current = table.currentIndex().row()
        origin = current if current >= 0 else (n - 1 if newest_last else -1)
        table.selectRow(max(0, min(n - 1, origin + step)))


def add_keys(owner: QWidget, keys: dict[str, Callable[[], object]]) -> None:
    """Shortcuts that work while `owner` or a child of it has the focus."""
    for key, slot in keys.items():
        shortcut = QShortcut(QKeySequence(key), owner)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)


class EmptyHint(QLabel):
    """Above an empty list: why it is empty and what to do (selectable, for commands)."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet("QLabel { background: palette(base); padding: 12px; }")
        self.hide()

    def say(self, text: str | None) -> None:
        """Show `text`, or hide when None."""
        self.setVisible(text is not None)
        if text is not None:
            self.setText(text)
