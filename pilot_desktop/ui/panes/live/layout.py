"""How Live shares its room: names whole in the Number column (Summary gives way), the
detail one line until a row is picked, then a part of the height that leaves the picked
row where it is."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QSplitter, QTableView

from pilot_desktop.ui.panes.live.cells import COLUMNS

NAME_MAX = 260  # the Number column grows to the longest name up to this; Summary gives way
DETAIL_MIN = 90


def fit_number_column(table: QTableView, numbers: Iterable[tuple[str | None, str | None]]) -> None:
    """The Number column as wide as the longest known name (or phone), up to NAME_MAX; past
    that the name is elided at the end and the cell's tooltip has it whole (the one elision
    rule). It only grows: a width the operator chose wider stays."""
    metrics = table.fontMetrics()
    labels = [name or phone or "" for name, phone in numbers]
    longest = max((metrics.horizontalAdvance(text) for text in labels), default=0) + 16
    column = COLUMNS.index("Number")
    header = table.horizontalHeader()
    if longest > header.sectionSize(column):
        header.resizeSection(column, min(NAME_MAX, longest))


def make_room_for_detail(split: QSplitter, table: QTableView) -> None:
    """The detail opens (a row picked): about 40 % of the height, less when that would cover
    the picked row (the rows do not move), at least DETAIL_MIN."""
    sizes = split.sizes()
    total = sum(sizes)
    want = max(DETAIL_MIN, int(total * 0.4))
    rows = table.selectionModel().selectedRows()
    if rows:
        row = rows[0].row()
        bottom = table.rowViewportPosition(row) + table.rowHeight(row)
        free = table.viewport().height() - bottom + sizes[1]
        want = max(DETAIL_MIN, min(want, free))
    split.setSizes([total - want, want])
