"""The Messages table model: the loaded pages of one filtered list, newest first.

Rows come from SQLite a page at a time (keyset by id, `fetchMore` when the view scrolls to
the bottom) and are refreshed in place from the writer's change descriptors. The model
never queries by itself: the pane loads pages off the GUI thread and hands them in.

A click on a header sorts the rows loaded (`sort`); the natural order (Created, newest
first) is the store's, and only in it do older pages load on scroll and new rows join at
the top. A refresh of a row redraws it where it is: a sort never moves rows by itself.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from pilot_desktop.core.content import shown_content
from pilot_desktop.core.format import duration, exact, number_short, number_tip, when
from pilot_desktop.core.lifecycle import RANK, error_meaning
from pilot_desktop.store.read_models import MessageRow, NumberNames, StuckRules
from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.columns import HEADERS, contact_cell
from pilot_desktop.ui.panes.messages.style import HEADER_TIPS, SORT_HINT, dated

COLUMNS = (
    "Status",
    "Created",
    "Number",
    "Contact",
    "Type",
    "Text",  # the message itself: next to who it is with, taking the spare width
    "Error",
    "Notes",
    "Sent→Delivered",
    "Delivered→Read",
    "Replies",
)
ID_ROLE = Qt.ItemDataRole.UserRole + 1
BADGE_ROLE = Qt.ItemDataRole.UserRole + 2  # (text, colour) of the status badge

_RIGHT = frozenset({"Sent→Delivered", "Delivered→Read", "Replies"})
NATURAL = (COLUMNS.index("Created"), Qt.SortOrder.DescendingOrder)

Index = QModelIndex | QPersistentModelIndex


class MessagesModel(QAbstractTableModel):
    def __init__(self, stuck_rules: Callable[[], StuckRules], fetch_more: Callable[[], None]) -> None:
        super().__init__()
        self._rows: list[MessageRow] = []
        self._neg_ids: list[int] = []  # -id per row: ascending (in the natural order), for bisect
        self._pos: dict[int, int] = {}  # id -> row
        self.sorting: tuple[int, Qt.SortOrder] = NATURAL
        self.dated = False  # rows from another day than today: every Created shows its date
        self.contact_names: dict[str, str] = {}  # phone -> the name a webhook carried
        self._dups: dict[int, int] = {}
        self._stuck_rules = stuck_rules
        self._fetch_more = fetch_more
        self.left_filter: set[int] = set()  # shown, but no longer matching the filter: greyed
        self.more = False  # older rows exist past the last one loaded
        self.fetching = False
        self.numbers: NumberNames = {}  # id -> (name, phone)

    def set_numbers(self, known: NumberNames) -> None:
        """Show numbers by name: the names came (or changed) with number events or polls."""
        if known == self.numbers:
            return
        self.numbers = known
        if self._rows:
            col = COLUMNS.index("Number")
            self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    def set_stuck_rules(self, rules: Callable[[], StuckRules]) -> None:
        self._stuck_rules = rules
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    # -- content -------------------------------------------------------------------

    def reset(self, rows: list[MessageRow], dups: dict[int, int], more: bool) -> None:
        self.beginResetModel()
        self._rows = self._sorted(rows)
        self._dups = dict(dups)
        self.left_filter = set()
        self.more = more
        self._reindex()
        self.endResetModel()

    def append_page(self, rows: list[MessageRow], dups: dict[int, int], more: bool) -> None:
        """An older page: rows below the last one (anything already shown is skipped)."""
        last = self._rows[-1].id if self._rows else None
        fresh = [r for r in rows if last is None or r.id < last]
        self.more = more
        if not fresh:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
        self._rows += fresh
        self._dups.update(dups)
        self._reindex()
        self.endInsertRows()

    def update_rows(self, rows: list[MessageRow], dups: dict[int, int]) -> None:
        """Fresh copies of rows already shown: redraw them where they are (even when sorted:
        a row never moves under the reader)."""
        self._learn_names(rows)
        for r in rows:
            pos = self.row_of(r.id)
            if pos is None:
                continue
            self._rows[pos] = r
            if r.id in dups:
                self._dups[r.id] = dups[r.id]
            self.dataChanged.emit(self.index(pos, 0), self.index(pos, len(COLUMNS) - 1))

    def insert_rows(self, rows: list[MessageRow], dups: dict[int, int]) -> int:
        """Rows new to this list, each at its place by id: new messages go on top in one
        block; a message that newly matches the filter goes where its id belongs."""
        rows = sorted(rows, key=lambda r: -r.id)
        top = self._rows[0].id if self._rows else None
        newer = [r for r in rows if top is None or r.id > top]
        self._learn_names(rows)
        if newer:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._rows[:0] = newer
            self._dups.update({r.id: dups[r.id] for r in newer if r.id in dups})
            self._reindex()
            self.endInsertRows()
        added = len(newer)
        for r in rows[len(newer) :]:
            pos = bisect.bisect_left(self._neg_ids, -r.id)
            if pos < len(self._neg_ids) and self._neg_ids[pos] == -r.id:
                continue
            if not self.natural():
                pos = len(self._rows)  # the pane holds inserts while sorted; never above the reader
            self.beginInsertRows(QModelIndex(), pos, pos)
            self._rows.insert(pos, r)
            if r.id in dups:
                self._dups[r.id] = dups[r.id]
            self._reindex()
            self.endInsertRows()
            added += 1
        return added

    def trim(self, keep: int) -> None:
        """Drop the oldest rows past `keep` (they are paged in again on scroll)."""
        n = len(self._rows)
        if n <= keep:
            return
        self.beginRemoveRows(QModelIndex(), keep, n - 1)
        for r in self._rows[keep:]:
            self._dups.pop(r.id, None)
        del self._rows[keep:]
        self.more = True
        self._reindex()
        self.endRemoveRows()

    def row_of(self, message: int) -> int | None:
        return self._pos.get(message)

    # -- order, dates and names --------------------------------------------------------

    def natural(self) -> bool:
        return self.sorting == NATURAL

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the loaded rows by a column (the header's click); selection and persistent
        indexes follow their rows."""
        if not 0 <= column < len(COLUMNS) or (column, order) == self.sorting:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        ids = [self._rows[i.row()].id if 0 <= i.row() < len(self._rows) else None for i in before]
        self.sorting = (column, order)
        self._rows = self._sorted(self._rows)
        self._reindex()
        after = [
            self.index(self._pos[m], i.column()) if m is not None and m in self._pos else QModelIndex()
            for m, i in zip(ids, before, strict=True)
        ]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _sorted(self, rows: list[MessageRow]) -> list[MessageRow]:
        natural = sorted(rows, key=lambda r: -r.id)
        if self.natural():
            return natural
        column, order = self.sorting
        col = COLUMNS[column]
        present = [r for r in natural if self._sort_key(r, col) is not None]
        absent = [r for r in natural if self._sort_key(r, col) is None]  # blanks last either way
        present.sort(key=lambda r: self._sort_key(r, col), reverse=order == Qt.SortOrder.DescendingOrder)
        return present + absent

    def _sort_key(self, row: MessageRow, col: str) -> Any:
        if col == "Status":
            return (RANK.get(row.status, 0), row.status)
        if col == "Created":
            return row.id  # arrival order: the store's order
        if col == "Sent→Delivered":
            return row.to_delivered
        if col == "Delivered→Read":
            return row.to_read
        if col == "Replies":
            return row.replies or None
        text = self._display(row, col)
        return text.lower() if text else None

    def _reindex(self) -> None:
        self._neg_ids = [-r.id for r in self._rows]
        self._pos = {r.id: i for i, r in enumerate(self._rows)}
        self._learn_names(self._rows)
        self._date_rows()

    def _date_rows(self) -> None:
        today = datetime.now().date()
        dated = any(datetime.fromtimestamp(r.first_at).date() != today for r in self._rows)
        if dated != self.dated:
            self.dated = dated
            if self._rows:
                col = COLUMNS.index("Created")
                self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    def add_contact_names(self, names: dict[str, str]) -> None:
        """Names of contacts (phone -> name) learnt from their inbound messages."""
        fresh = {p: n for p, n in names.items() if self.contact_names.get(p) != n}
        if fresh:
            self.contact_names.update(fresh)
            if self._rows:
                col = COLUMNS.index("Contact")
                self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    def _learn_names(self, rows: list[MessageRow]) -> None:
        for r in rows:
            if not r.outbound and r.peer and r.name and r.chat is None:
                self.contact_names[r.peer] = r.name

    def row_at(self, row: int) -> MessageRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def ids(self) -> list[int]:
        return [-n for n in self._neg_ids]

    @property
    def oldest_id(self) -> int | None:
        return self._rows[-1].id if self._rows else None

    def duplicates(self, message: int) -> int:
        return self._dups.get(message, 0)

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self.more and not self.fetching and self.natural()

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._fetch_more()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(COLUMNS[section], COLUMNS[section])
        if role == Qt.ItemDataRole.ToolTipRole:
            return (HEADER_TIPS.get(COLUMNS[section]) or COLUMNS[section]) + SORT_HINT
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == ID_ROLE:
            return row.id
        if role == BADGE_ROLE and col == "Status":
            return style.status_text(row.status), style.status_color(row.status)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- cells -----------------------------------------------------------------------

    def _display(self, row: MessageRow, col: str) -> str:
        if col == "Status":
            return style.status_text(row.status)
        if col == "Created":
            return dated(row.first_at) if self.dated else when(row.first_at)
        if col == "Number":  # the name alone fits the column; name, phone and id in the tooltip
            return number_short(row.number_id, self.numbers) if row.number_id else ""
        if col == "Contact":
            return contact_cell(row, self.contact_names)
        if col == "Type":
            return row.kind or ("⚠" if style.field_issue(row, "type") else "")
        if col == "Sent→Delivered":
            return duration(row.to_delivered, missing="")
        if col == "Delivered→Read":
            return duration(row.to_read, missing="")
        if col == "Replies":
            return str(row.replies) if row.replies else ""
        if col == "Error":
            return row.error_code or (row.error or "")
        if col == "Notes":
            return " · ".join(self._notes(row))
        return shown_content(row.text, row.kind)  # never blank: "content not retained" (api §2.8)

    def _notes(self, row: MessageRow) -> list[str]:
        notes: list[str] = []
        stuck = style.stuck_for(row, self._stuck_rules(), time.time())
        if stuck is not None:
            notes.append(f"stuck {duration(stuck)}")
        if row.late:
            notes.append("late" if row.late == 1 else f"late ×{row.late}")
        if dups := self._dups.get(row.id, 0):
            notes.append(f"{dups} dup")
        if not row.outbound and row.reply_to is not None:
            notes.append("↩ reply")
        if row.issues:
            notes.append("⚠ schema")
        return notes

    def _foreground(self, row: MessageRow, col: str) -> QBrush | None:
        if row.id in self.left_filter:
            return QBrush(QColor(style.PENDING_COLOR))
        if col == "Error":
            return QBrush(QColor("#c53030"))
        if row.issues and col in ("Contact", "Type") and style.field_issue(row, style.field_of(row, col)):
            return QBrush(QColor(style.STUCK_COLOR))
        if col == "Text" and not (row.text or "").strip():  # what stands in for a text: greyed
            return QBrush(QColor(style.PENDING_COLOR))
        if col == "Notes":
            stuck = style.stuck_for(row, self._stuck_rules(), time.time()) is not None
            return QBrush(QColor(style.STUCK_COLOR if stuck else style.LATE_COLOR))
        return None

    def _tooltip(self, row: MessageRow, col: str) -> str | None:
        if col == "Status":
            left = (
                "\nNo longer matches the filter; it leaves the list at the next reload."
                if row.id in self.left_filter
                else ""
            )
            help_text = style.STATUS_HELP.get(row.status, "")
            return f"{style.status_text(row.status)}: {help_text}{left}\n(double-click: timeline)"
        if col == "Created":
            return f"first event {exact(row.first_at)}; first arrival {exact(row.first_received_at)}"
        if col == "Error" and (row.error or row.error_code):
            meaning, documented = error_meaning(row.error_code)
            mark = "" if documented else " ⚠"
            return f"{row.error or '(no error text)'}\n\n{row.error_code or 'no code'}{mark}: {meaning}"
        if col == "Notes":
            return self._notes_tip(row)
        if col == "Number" and row.number_id:
            return number_tip(row.number_id, self.numbers)
        if col == "Contact":
            return style.contact_tip(row, self.contact_names)
        if col == "Type" and (issue := style.field_issue(row, "type")):
            return f"⚠ {issue}"
        if col == "Text":
            return self._display(row, col) or None
        return None

    def _notes_tip(self, row: MessageRow) -> str | None:
        lines: list[str] = []
        stuck = style.stuck_for(row, self._stuck_rules(), time.time())
        if stuck is not None:
            lines.append(f"Stuck: {row.status.lower()} for {duration(stuck)}, past the deadline.")
        if row.late:
            lines.append(f"{row.late} status(es) arrived after a later one; the status did not go back.")
        if dups := self._dups.get(row.id, 0):
            lines.append(f"{dups} duplicate delivery(ies) (retries): counted, not stored twice.")
        if not row.outbound and row.reply_to is not None:
            lines.append("Answers one of your messages (open the timeline to follow the link).")
        if row.issues:
            lines.append("⚠ Its webhooks did not match the schema:")
            lines += [f"  {line}" for line in row.issues]
        return "\n".join(lines) or None
