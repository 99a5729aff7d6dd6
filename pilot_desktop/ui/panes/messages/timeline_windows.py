"""The timeline windows of the Messages pane: one per place a timeline is opened from
(the pane's rows, the Live pane, a send), each with its own Back history, so Back never
leads into what another dialog was looking at."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QTableView

from pilot_desktop.store.records import Changes
from pilot_desktop.ui.panes.messages.model import MessagesModel
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog

ROWS = "messages"  # the pane's own rows
LIVE = "live"  # the Live pane's double-click
SEND = "send"  # the Send dialog's message


class TimelineWindows:
    def __init__(self, make: Callable[[], TimelineDialog]) -> None:
        self._make = make
        self.windows: dict[str, TimelineDialog] = {}

    def get(self, key: str) -> TimelineDialog | None:
        return self.windows.get(key)

    def put(self, key: str, dialog: TimelineDialog | None) -> None:
        if dialog is None:
            self.windows.pop(key, None)
        else:
            self.windows[key] = dialog

    def window(self, key: str) -> TimelineDialog:
        """The window for `key`, made on first use (titled by where it was opened from)."""
        if key not in self.windows:
            dialog = self._make()
            if key != ROWS:
                dialog.setWindowTitle(f"Message timeline ({'Live' if key == LIVE else 'sent message'})")
            self.windows[key] = dialog
        return self.windows[key]

    def note_changes(self, changes: Changes) -> None:
        for dialog in self.windows.values():
            dialog.note_changes(changes)

    def flush(self) -> None:
        for dialog in self.windows.values():
            if dialog.isVisible():
                dialog.flush()

    def shutdown(self) -> None:
        for dialog in self.windows.values():
            dialog.shutdown()
            dialog.close()


class RowsAndTimelines:
    """The Messages pane's selection and its timeline windows (a part of MessagesPane)."""

    table: QTableView
    model: MessagesModel
    timelines: TimelineWindows

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        row = self.model.row_at(rows[0].row()) if rows else None
        return row.id if row is not None else None

    def select_message(self, message: int, *, scroll: bool = True) -> bool:
        pos = self.model.row_of(message)
        if pos is None:
            return False
        self.table.selectRow(pos)
        if scroll:
            self.table.scrollTo(self.model.index(pos, 0))
        return True

    def _row_activated(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_timeline(row.id)

    def open_selected(self) -> None:
        message = self.selected_id()
        if message is not None:
            self.open_timeline(message)

    @property
    def timeline(self) -> TimelineDialog | None:
        """The timeline window of this pane's rows."""
        return self.timelines.get(ROWS)

    @timeline.setter
    def timeline(self, dialog: TimelineDialog | None) -> None:
        self.timelines.put(ROWS, dialog)

    def open_timeline(self, message: int, window: str = ROWS) -> TimelineDialog:
        """Show a message's timeline in the (non-modal) window of where it was opened from
        (`window`: ROWS, LIVE, SEND); each window has its own Back history."""
        dialog = self.timelines.window(window)
        dialog.open_message(message)
        return dialog
