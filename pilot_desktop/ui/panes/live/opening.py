"""Live's rows opened: the selected row's detail, a double-click or the detail's buttons
to the message timeline or the Refused view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, QModelIndex

from pilot_desktop.store.errors import StoreError
from pilot_desktop.ui import messages

if TYPE_CHECKING:
    from pilot_desktop.ui.panes.live.pane import LivePane


class RowOpener:
    def __init__(self, pane: LivePane) -> None:
        self.pane = pane
        pane.table.selectionModel().selectionChanged.connect(self._selection_changed)
        pane.table.doubleClicked.connect(self._row_activated)
        pane.detail.timeline_button.clicked.connect(self._open_selected_timeline)
        pane.detail.refused_button.clicked.connect(self._open_selected_refusal)

    def _selected_row(self) -> int | None:
        rows = self.pane.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        row = rows[0].row()
        event_id, mark = self.pane.model.event_id(row), self.pane.model.mark_at(row)
        try:
            if event_id is not None:
                self.pane.detail.show_event(self.pane.reads.event(event_id))
            elif mark is not None and mark.kind == "refusal":
                self.pane.detail.show_refusal(self.pane.reads.rejection_detail(mark.ident, self.pane._token))
            elif mark is not None and (gap := self.pane.model.gap(mark.ident)) is not None:
                self.pane.detail.show_gap(gap)
        except StoreError as exc:
            messages.error(f"Could not read row {row + 1}: {exc}")

    def _row_activated(self, index: QModelIndex) -> None:
        mark = self.pane.model.mark_at(index.row())
        if mark is not None and mark.kind == "refusal":
            self.pane.refused_requested.emit(mark.ident)
            return
        row = self.pane.model.row_at(index.row())
        if row is not None and row.event.startswith("message."):
            self.open_timeline_of(row.id)

    def _open_selected_refusal(self) -> None:
        row = self._selected_row()
        mark = None if row is None else self.pane.model.mark_at(row)
        self.pane.refused_requested.emit(mark.ident if mark is not None and mark.kind == "refusal" else 0)

    def _open_selected_timeline(self) -> None:
        row = self._selected_row()
        event_id = None if row is None else self.pane.model.event_id(row)
        if event_id is not None:
            self.open_timeline_of(event_id)

    def open_timeline_of(self, event_id: int) -> bool:
        """Ask for the timeline of the message this event is a step of; say so when none."""
        try:
            message = self.pane.reads.message_of_event(event_id)
        except StoreError as exc:
            messages.error(f"Could not read event #{event_id}: {exc}")
            return False
        if message is None:
            messages.info(
                f"Event #{event_id} is not tied to a message (it carries no message id), "
                "so it has no timeline."
            )
            return False
        self.pane.timeline_requested.emit(message)
        return True
