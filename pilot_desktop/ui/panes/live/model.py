"""The Live table model: ids in memory, rows built lazily from SQLite (docs/craft.md, habit 6).

The model holds the matching event ids as a compact array (8 bytes a row, so a million
events cost 8 MB) and builds a row only when the view draws it, fetching pages of 256
rows by id range into a bounded LRU cache. New rows arrive in batches from the writer's
change descriptors (one `beginInsertRows` per batch) and are cached as they come, so the
live tail never touches the database.

Refused deliveries (at most the 10,000 the store keeps) and gaps are merged in by time as
marks (rows.py); a refused row is read, like an event, only when drawn. A gap is a band
across the row (the pane spans it), never a row of the events' kind.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from pilot_desktop.core.format import number_short, number_tip
from pilot_desktop.store.read_models import EventFilter, LiveSnapshot, Mark, NumberNames
from pilot_desktop.store.records import EventRow, Gap, RejectionRow
from pilot_desktop.ui.panes.live import cells
from pilot_desktop.ui.panes.live.cells import COLUMNS
from pilot_desktop.ui.panes.live.rows import MergedRows

PAGE = 256
ID_ROLE = Qt.ItemDataRole.UserRole + 1
# What Live shows: webhooks stored, refused deliveries, or both (gap bands always).
SHOW_ALL, SHOW_DELIVERIES, SHOW_REFUSALS = "all", "deliveries", "refusals"

Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, ID_ROLE,
})  # fmt: skip
_MARK_ROLES = _ROLES | {Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole}
_NAMED_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole})
_REFUSED_BACK = QBrush(QColor("#fff1f1"))
_BAND_FONT = QFont()
_BAND_FONT.setBold(True)

FetchEvents = Callable[[Iterable[int]], dict[int, EventRow]]
FetchRefusals = Callable[[Iterable[int]], dict[int, RejectionRow]]


class LiveModel(QAbstractTableModel):
    def __init__(
        self, fetch_rows: FetchEvents, fetch_refusals: FetchRefusals, cache_rows: int = 5000
    ) -> None:
        super().__init__()
        self._fetch_rows = fetch_rows
        self._fetch_refusals = fetch_refusals
        self._rows = MergedRows()
        self._cache: OrderedDict[int, EventRow] = OrderedDict()
        self._refused: OrderedDict[int, RejectionRow | None] = OrderedDict()  # None: trimmed
        self._gaps: dict[int, Gap] = {}
        self._gap_marks: dict[int, Mark] = {}  # where each gap's band was placed
        self._cache_rows = cache_rows
        self.filter = EventFilter()
        self.mode = SHOW_ALL
        self.numbers: NumberNames = {}  # id -> (name, phone): numbers shown by name

    def set_cache_rows(self, n: int) -> None:
        """Rows kept built in memory (ui.live_tail_rows); a smaller size trims at once."""
        self._cache_rows = n
        while len(self._cache) > n:
            self._cache.popitem(last=False)
        while len(self._refused) > n:
            self._refused.popitem(last=False)

    def set_numbers(self, known: NumberNames) -> None:
        if known == self.numbers:
            return
        self.numbers = known
        if len(self._rows):
            col = COLUMNS.index("Number")
            self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    # -- content -------------------------------------------------------------------

    def reset(self, snapshot: LiveSnapshot, flt: EventFilter, mode: str = SHOW_ALL) -> None:
        self.beginResetModel()
        self._rows = MergedRows(snapshot.ids, snapshot.refusals + [m for m, _ in snapshot.gaps])
        self._gaps = {g.id: g for _, g in snapshot.gaps}
        self._gap_marks = {m.ident: m for m, _ in snapshot.gaps}
        self.filter = flt
        self.mode = mode
        self._cache.clear()
        self._refused.clear()
        self.endResetModel()

    @property
    def last_id(self) -> int:
        return self._rows.last_id

    @property
    def event_count(self) -> int:
        return len(self._rows.ids)

    @property
    def refusal_count(self) -> int:
        return self._rows.counts["refusal"]

    @property
    def gap_count(self) -> int:
        return self._rows.counts["gap"]

    @property
    def last_refusal_id(self) -> int:
        return max((m.ident for m in self._rows.marks if m.kind == "refusal"), default=0)

    def gap_rows(self) -> list[int]:
        return list(self._rows.mark_rows("gap"))

    def append(self, rows: list[EventRow]) -> int:
        """Add new rows (ascending ids) that match the filter; returns how many."""
        if self.mode == SHOW_REFUSALS:
            return 0
        last = self.last_id
        fresh = [r for r in rows if r.id > last and self.filter.matches(r)]
        for r in fresh:
            self._remember(r)
        runs = self._rows.event_runs([r.id for r in fresh])
        for row, run in runs:  # apply each run before the next is placed
            self.beginInsertRows(QModelIndex(), row, row + len(run) - 1)
            self._rows.extend(run)
            self.endInsertRows()
        return len(fresh)

    def add_marks(self, marks: Iterable[Mark]) -> int:
        """New refusals (or gaps) among the rows; those already shown are left alone."""
        added = 0
        for mark in marks:
            if self._rows.row_of_mark(mark) is not None:
                continue
            row = self._rows.row_for(mark)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(mark)
            self.endInsertRows()
            added += 1
        return added

    def set_gaps(self, gaps: list[tuple[Mark, Gap]]) -> None:
        """The gaps as now recorded: new ones inserted, changed ones (ended, caught up) redrawn
        where they were placed."""
        new = [m for m, g in gaps if g.id not in self._gaps]
        changed = [g for _, g in gaps if g.id in self._gaps and self._gaps[g.id] != g]
        self._gaps.update((g.id, g) for _, g in gaps)  # before the rows exist: they are drawn at once
        self._gap_marks.update((m.ident, m) for m in new)
        self.add_marks(new)
        for gap in changed:
            self.redraw_mark(self._gap_marks[gap.id])

    def redraw_mark(self, mark: Mark) -> None:
        row = self._rows.row_of_mark(mark)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def open_gap_marks(self) -> list[Mark]:
        return [self._gap_marks[i] for i, g in self._gaps.items() if g.ended_at is None]

    def update_deliveries(self, redelivered: dict[int, int]) -> None:
        """A retry of an event already shown: bump its × column if it is drawn."""
        col = COLUMNS.index("×")
        for event_id, deliveries in redelivered.items():
            row = self.row_of(event_id)
            cached = self._cache.get(event_id)
            if row is None or cached is None:
                continue
            self._cache[event_id] = replace(cached, deliveries=deliveries)
            idx = self.index(row, col)
            self.dataChanged.emit(idx, idx)

    def row_of(self, event_id: int) -> int | None:
        return self._rows.row_of_event(event_id)

    def row_of_refusal(self, rejection_id: int) -> int | None:
        found = (m for m in self._rows.marks if m.kind == "refusal" and m.ident == rejection_id)
        mark = next(found, None)
        return None if mark is None else self._rows.row_of_mark(mark)

    def event_id(self, row: int) -> int | None:
        """The event shown at `row`; None for a refused delivery or a gap."""
        return self._rows.event_id(row)

    def mark_at(self, row: int) -> Mark | None:
        found = self._rows.at(row)
        return found if isinstance(found, Mark) else None

    def gap(self, ident: int) -> Gap | None:
        return self._gaps.get(ident)

    def row_at(self, row: int) -> EventRow | None:
        """The event at `row` (None for a refusal or a gap)."""
        found = self._rows.at(row)
        return self._event(found) if isinstance(found, int) else None

    def _event(self, index: int) -> EventRow | None:
        ids = self._rows.ids
        event_id = ids[index]
        cached = self._cache.get(event_id)
        if cached is not None:
            self._cache.move_to_end(event_id)
            return cached
        page = min(PAGE, max(1, self._cache_rows // 2))  # a page always fits in the cache
        start = index - index % page
        for r in self._fetch_rows(ids[start : start + page]).values():
            self._remember(r)
        return self._cache.get(event_id)

    def refusal(self, mark: Mark) -> RejectionRow | None:
        """The refused delivery `mark` stands for (None once trimmed from the store)."""
        ident = mark.ident
        if ident in self._refused:
            self._refused.move_to_end(ident)
            return self._refused[ident]
        marks = self._rows.marks
        j = bisect.bisect_left(marks, mark)
        near = [m.ident for m in marks[max(0, j - PAGE // 2) : j + PAGE // 2] if m.kind == "refusal"]
        found = self._fetch_refusals(near)
        for n in near:
            self._refused[n] = found.get(n)
            self._refused.move_to_end(n)
        while len(self._refused) > self._cache_rows:
            self._refused.popitem(last=False)
        return found.get(ident)

    def _remember(self, row: EventRow) -> None:
        self._cache[row.id] = row
        self._cache.move_to_end(row.id)
        while len(self._cache) > self._cache_rows:
            self._cache.popitem(last=False)

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return (
                "Deliveries: how many times the platform sent this event" if COLUMNS[section] == "×" else None
            )
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Views ask for ~7 roles per cell per paint; build the row only for those we answer.
        if role not in _MARK_ROLES or not index.isValid():
            return None
        found = self._rows.at(index.row())
        if found is None:
            return None
        col = COLUMNS[index.column()]
        if isinstance(found, Mark):
            return self._mark_data(found, col, role)
        if role not in _ROLES:
            return None
        row = self._event(found)
        if row is None:
            return None
        if col == "Number" and row.number_id and role in _NAMED_ROLES:
            show = number_short if role == Qt.ItemDataRole.DisplayRole else number_tip
            return show(row.number_id, self.numbers)
        if role == Qt.ItemDataRole.DisplayRole:
            return cells.event_display(row, col)
        if role == ID_ROLE:
            return row.id
        if role == Qt.ItemDataRole.ForegroundRole:
            return cells.event_foreground(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.event_tooltip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == "×":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _mark_data(self, mark: Mark, col: str, role: int) -> Any:
        if mark.kind == "gap":
            gap = self._gaps[mark.ident]
            if role == Qt.ItemDataRole.DisplayRole:
                return f"‖  {cells.gap_text(gap)}" if col == COLUMNS[0] else ""
            if role == Qt.ItemDataRole.ToolTipRole:
                return cells.gap_text(gap)
            if role == Qt.ItemDataRole.BackgroundRole:
                return cells.BAND
            if role == Qt.ItemDataRole.ForegroundRole:
                return cells.BAND_TEXT
            return _BAND_FONT if role == Qt.ItemDataRole.FontRole else None
        refused = self.refusal(mark)
        if col == "Number" and refused is not None and refused.number_id and role in _NAMED_ROLES:
            show = number_short if role == Qt.ItemDataRole.DisplayRole else number_tip
            return show(refused.number_id, self.numbers)
        if role == Qt.ItemDataRole.DisplayRole:
            return cells.refusal_display(refused, col, mark.at)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.refusal_tooltip(refused, col)
        if role == Qt.ItemDataRole.ForegroundRole and col in ("Event", "Summary", "Signature"):
            return QBrush(cells.REFUSED)
        return _REFUSED_BACK if role == Qt.ItemDataRole.BackgroundRole else None
