"""The look shared by the app's tables."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTableWidget


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
