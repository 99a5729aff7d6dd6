"""The Live table model: ids in memory, rows built lazily from SQLite (docs/craft.md, habit 6).

The model holds the matching event ids as a compact array (8 bytes a row, so a million
events cost 8 MB) and builds a row only when the view draws it, fetching pages of 256
rows by id range into a bounded LRU cache. New rows arrive in batches from the writer's
change descriptors (one `beginInsertRows` per batch) and are cached as they come, so the
live tail never touches the database.
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from pilot_desktop.core.catalogue import GROUP_LABELS
from pilot_desktop.core.format import clock, number_short, number_tip
from pilot_desktop.store.read_models import EventFilter, IdList, NumberNames
from pilot_desktop.store.records import EventRow

PAGE = 256
COLUMNS = ("Time", "Event", "Number", "From", "To", "Summary", "Signature", "×")
ID_ROLE = Qt.ItemDataRole.UserRole + 1

_SIGNATURE_TEXT = {
    "valid": "✔ valid",
    "unsigned": "unsigned",
    "unverified": "unverified",
    "invalid": "✘ invalid",
}
_GROUP_COLORS = {
    "status": "#2b6cb0",
    "inbound": "#2f855a",
    "number": "#b7791f",
    "call": "#6b46c1",
    "lead": "#c05621",
    "other": "#718096",
}

Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, ID_ROLE,
})  # fmt: skip
_NAMED_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole})


class LiveModel(QAbstractTableModel):
    def __init__(
        self, fetch_rows: Callable[[Iterable[int]], dict[int, EventRow]], cache_rows: int = 5000
    ) -> None:
        super().__init__()
        self._fetch_rows = fetch_rows
        self._ids: IdList = range(1, 1)
        self._cache: OrderedDict[int, EventRow] = OrderedDict()
        self._cache_rows = cache_rows
        self.filter = EventFilter()
        self.numbers: NumberNames = {}  # id -> (name, phone): numbers shown by name

    def set_numbers(self, known: NumberNames) -> None:
        if known == self.numbers:
            return
        self.numbers = known
        if self._ids:
            col = COLUMNS.index("Number")
            self.dataChanged.emit(self.index(0, col), self.index(len(self._ids) - 1, col))

    # -- content -------------------------------------------------------------------

    def reset(self, ids: IdList, flt: EventFilter) -> None:
        self.beginResetModel()
        self._ids = ids
        self.filter = flt
        self._cache.clear()
        self.endResetModel()

    @property
    def last_id(self) -> int:
        return self._ids[-1] if self._ids else 0

    def append(self, rows: list[EventRow]) -> int:
        """Add new rows (ascending ids) that match the filter; returns how many."""
        last = self.last_id
        fresh = [r for r in rows if r.id > last and self.filter.matches(r)]
        if not fresh:
            return 0
        start = len(self._ids)
        self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
        self._extend([r.id for r in fresh])
        for r in fresh:
            self._remember(r)
        self.endInsertRows()
        return len(fresh)

    def _extend(self, new: list[int]) -> None:
        ids = self._ids
        if isinstance(ids, range) and new == list(range(ids.stop, ids.stop + len(new))):
            self._ids = range(ids.start, ids.stop + len(new))  # still dense: stay O(1)
            return
        if isinstance(ids, range):
            self._ids = ids = array("q", ids)
        ids.extend(new)

    def update_deliveries(self, redelivered: dict[int, int]) -> None:
        """A retry of an event already shown: bump its × column if it is drawn."""
        col = COLUMNS.index("×")
        for event_id, deliveries in redelivered.items():
            row = self.row_of(event_id)
            cached = self._cache.get(event_id)
            if row is None or cached is None:
                continue
            self._cache[event_id] = _replace_deliveries(cached, deliveries)
            idx = self.index(row, col)
            self.dataChanged.emit(idx, idx)

    def row_of(self, event_id: int) -> int | None:
        pos = bisect.bisect_left(self._ids, event_id)
        return pos if pos < len(self._ids) and self._ids[pos] == event_id else None

    def event_id(self, row: int) -> int:
        return self._ids[row]

    def row_at(self, row: int) -> EventRow | None:
        if not 0 <= row < len(self._ids):
            return None
        event_id = self._ids[row]
        cached = self._cache.get(event_id)
        if cached is not None:
            self._cache.move_to_end(event_id)
            return cached
        start = row - row % PAGE
        for r in self._fetch_rows(self._ids[start : start + PAGE]).values():
            self._remember(r)
        return self._cache.get(event_id)

    def _remember(self, row: EventRow) -> None:
        self._cache[row.id] = row
        self._cache.move_to_end(row.id)
        while len(self._cache) > self._cache_rows:
            self._cache.popitem(last=False)

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

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
        if role not in _ROLES or not index.isValid():
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        col = COLUMNS[index.column()]
        if col == "Number" and row.number_id and role in _NAMED_ROLES:
            show = number_short if role == Qt.ItemDataRole.DisplayRole else number_tip
            return show(row.number_id, self.numbers)
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, col)
        if role == ID_ROLE:
            return row.id
        if role == Qt.ItemDataRole.ForegroundRole:
            return _foreground(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == "×":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _replace_deliveries(row: EventRow, deliveries: int) -> EventRow:
    return replace(row, deliveries=deliveries)


def _display(row: EventRow, col: str) -> str:
    if col == "Time":
        return clock(row.received_at)
    if col == "Event":
        return row.event + (" ⚠" if row.classification == "schema_issues" else "")
    if col == "Number":
        return row.number_id or ""
    if col == "From":
        return row.from_addr or ""
    if col == "To":
        return row.to_addr or ""
    if col == "Summary":
        return row.summary
    if col == "Signature":
        return _SIGNATURE_TEXT.get(row.signature, row.signature)
    return str(row.deliveries) if row.deliveries > 1 else ""


def _foreground(row: EventRow, col: str) -> QBrush | None:
    if col == "Event":
        if row.classification == "schema_issues":
            return QBrush(QColor("#c53030"))
        return QBrush(QColor(_GROUP_COLORS.get(row.group, "#718096")))
    if col == "Signature" and row.signature == "valid":
        return QBrush(QColor("#2f855a"))
    if col == "×" and row.deliveries > 1:
        return QBrush(QColor("#b7791f"))
    if row.event == "message.failed" and col == "Summary":
        return QBrush(QColor("#c53030"))
    return None


def _tooltip(row: EventRow, col: str) -> str | None:
    if col == "Event":
        kind = {
            "valid": "matches the documented schema",
            "schema_issues": "known event with fields that do not match the schema (see details)",
            "unknown": "event name not in the documented catalogue; stored as received",
        }[row.classification]
        return f"{GROUP_LABELS.get(row.group, row.group)} — {kind}"
    if col == "×":
        return f"delivered {row.deliveries} time(s); retries are counted, not stored twice"
    if col == "Summary":
        return row.summary
    return None
