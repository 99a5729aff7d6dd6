"""When the Messages list may move: never while a reader is on it (the pane's rule)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView


class ReaderHold(QObject):
    """Knows whether the reader is on the list: scrolled away from the top, the pointer over
    the rows, a row selected, or the rows sorted other than in the live order. Tells
    `released` when the pointer leaves (the caller checks the rest)."""

    def __init__(self, table: QTableView, natural: Callable[[], bool], released: Callable[[], None]) -> None:
        super().__init__(table)
        self.table = table
        self._natural = natural
        self._released = released
        self.pointer_in = False
        table.viewport().installEventFilter(self)

    def held(self) -> bool:
        return (
            self.table.verticalScrollBar().value() != 0
            or self.pointer_in
            or self.table.selectionModel().hasSelection()
            or not self._natural()
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Enter, QEvent.Type.MouseMove, QEvent.Type.HoverEnter, QEvent.Type.HoverMove):
            self.pointer_in = True
        elif kind in (QEvent.Type.Leave, QEvent.Type.HoverLeave):
            self.pointer_in = False
            self._released()
        return False
