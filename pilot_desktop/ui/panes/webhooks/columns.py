"""How the Webhooks pane's tables and its dialogs' share their width: by need.

Every column is measured (its contents and title, up to a cap): that is what it needs. The
one column that matters most (a URL, a reason: the `stretch` column) takes what is left,
never less than its `least` nor than its `share` of the table (a promise: other columns give
way first). When the needs do not fit:

1. columns that have a short form (`narrow`: a short title; cells give a short text in
   SHORT_ROLE, e.g. "3 min" for "3 min ago") switch to it;
2. the others (short forms are read whole) give up width in proportion to what they have
   above their floor (their title, or a sample text that must stay readable: a name's
   first word, "all events (*)");
3. if even the floors do not leave the stretch column its due, the columns in `drop`
   (lowest value first) are hidden, and shown again as soon as there is room.

Cells that still do not fit are elided at the end; their tooltips hold the whole text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QStyledItemDelegate, QStyleOptionViewItem, QTableView

SHORT_ROLE = Qt.ItemDataRole.UserRole + 41  # a cell's short form, shown when its column is narrow
DEFAULT_CAP = 320
PADDING = 16  # a cell's margins around its text


class _ShortForm(QStyledItemDelegate):
    """Draws (and measures) a cell's short form while its column is narrow."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.narrow = False

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        short = index.data(SHORT_ROLE) if self.narrow else None
        if isinstance(short, str):
            option.text = short


def share_out(needs: dict[int, int], floors: dict[int, int], room: int) -> dict[int, int]:
    """`needs` when they fit in `room`; else each column gives up width in proportion to
    what it has above its floor, down to the floors at most."""
    total = sum(needs.values())
    if total <= room:
        return dict(needs)
    give = sum(needs[c] - floors[c] for c in needs)
    if give <= 0:
        return dict(floors)
    part = min(1.0, (total - room) / give)
    return {c: needs[c] - math.ceil((needs[c] - floors[c]) * part) for c in needs}


class FitColumns(QObject):
    """Sizes `table`'s columns by need on every resize of its viewport (see the module)."""

    def __init__(
        self,
        table: QTableView,
        stretch: int,
        *,
        least: int = 160,
        share: float = 0.0,
        caps: dict[int, int] | None = None,
        floors: dict[int, str] | None = None,
        narrow: dict[int, str] | None = None,
        drop: Sequence[int] = (),
    ) -> None:
        super().__init__(table)
        self.table, self.stretch, self.least, self.share = table, stretch, least, share
        self.caps, self.floor_texts = caps or {}, floors or {}
        self.narrow, self.drop = narrow or {}, tuple(drop)
        self.hidden: set[int] = set()  # the columns this hid for want of room
        self.titles: dict[int, str] = {}
        self.short = _ShortForm(self)
        for col in self.narrow:
            table.setItemDelegateForColumn(col, self.short)
        self._fitting = False
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.viewport().installEventFilter(self)
        self.fit()

    @property
    def is_narrow(self) -> bool:
        return self.short.narrow

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        if self._fitting:  # hiding a column or a scroll bar resizes the viewport again
            return
        self._fitting = True
        try:
            self._fit()
        finally:
            self._fitting = False

    def _fit(self) -> None:
        table, header = self.table, self.table.horizontalHeader()
        for col in self.hidden:
            header.showSection(col)
        self.hidden.clear()
        room = table.viewport().width()
        want = max(self.least, int(room * self.share))
        for narrow in (False, True) if self.narrow else (False,):
            self._narrow(narrow)
            needs, floors = self._measure()
            if sum(needs.values()) + want <= room:
                break
        widths = share_out(needs, floors, max(0, room - want))
        for col in self.drop:  # lowest value first, only when even the floors do not fit
            if sum(widths.values()) + want <= room or col not in widths:
                continue
            header.hideSection(col)
            self.hidden.add(col)
            del needs[col], floors[col]
            widths = share_out(needs, floors, max(0, room - want))
        for col, width in widths.items():
            header.resizeSection(col, width)
        header.resizeSection(self.stretch, max(self.least, room - sum(widths.values())))

    def _measure(self) -> tuple[dict[int, int], dict[int, int]]:
        """Each other column's need (contents and title, capped) and floor."""
        table, header = self.table, self.table.horizontalHeader()
        metrics = table.fontMetrics()
        needs: dict[int, int] = {}
        floors: dict[int, int] = {}
        for col in range(table.model().columnCount()):
            if col == self.stretch or header.isSectionHidden(col):
                continue
            title = header.sectionSizeHint(col)
            need = min(max(table.sizeHintForColumn(col), title), max(self.caps.get(col, DEFAULT_CAP), title))
            sample = self.floor_texts.get(col)
            floor = metrics.horizontalAdvance(sample) + PADDING if sample else 0
            if self.short.narrow and col in self.narrow:
                floor = need  # a short form is made to be read whole
            needs[col], floors[col] = need, min(need, max(title, floor))
        return needs, floors

    def _narrow(self, on: bool) -> None:
        """Short titles and short cells in the `narrow` columns (on), or the whole ones."""
        if self.short.narrow == on and self.titles:
            return
        model = self.table.model()
        horizontal = Qt.Orientation.Horizontal
        for col, short in self.narrow.items():
            if col not in self.titles:
                self.titles[col] = str(model.headerData(col, horizontal) or "")
            title = self.titles[col]
            model.setHeaderData(col, horizontal, short if on else title)
            model.setHeaderData(col, horizontal, title, Qt.ItemDataRole.ToolTipRole)
        self.short.narrow = on
        self.table.viewport().update()


def refit(table: QTableView) -> None:
    """Size `table`'s columns again after its cells changed (when it has a FitColumns)."""
    fit = table.findChild(FitColumns)
    if fit is not None:
        fit.fit()
