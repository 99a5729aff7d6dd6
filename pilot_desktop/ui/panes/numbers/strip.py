"""The 24 h uptime strip: one small cell per half hour, coloured by its worst state."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QRect, QSize
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QToolTip, QWidget

from pilot_desktop.core.numbers import CLOSED, CONNECTING, OPEN, REMOVED, UNKNOWN
from pilot_desktop.ui.panes.numbers.text import STATE_LABEL, colour

CELL_W, GAP, HEIGHT = 6, 1, 16
_WORST = {
    OPEN: "connected all along",
    CONNECTING: "connecting at some point",
    CLOSED: "disconnected at some point",
    REMOVED: "removed",
    UNKNOWN: "state not known yet",
}


class UptimeStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slots: list[str] = []
        self.since = 0.0
        self.until = 0.0
        self.setMouseTracking(True)
        self.setToolTip("Last 24 hours, oldest on the left; one cell per half hour")

    def set_slots(self, slots: list[str], since: float, until: float) -> None:
        if (slots, since // 60, until // 60) == (self.slots, self.since // 60, self.until // 60):
            return  # nothing to redraw
        self.slots, self.since, self.until = list(slots), since, until
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(max(1, len(self.slots)) * (CELL_W + GAP), HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def slot_rect(self, i: int) -> QRect:
        return QRect(i * (CELL_W + GAP), 0, CELL_W, self.height())

    def slot_at(self, pos: QPoint) -> int | None:
        i = pos.x() // (CELL_W + GAP)
        return i if 0 <= i < len(self.slots) else None

    def slot_tip(self, i: int) -> str:
        width = (self.until - self.since) / max(1, len(self.slots))
        start, end = self.since + i * width, self.since + (i + 1) * width
        span = f"{datetime.fromtimestamp(start):%H:%M}–{datetime.fromtimestamp(end):%H:%M}"
        state = self.slots[i]
        return f"{span}: {_WORST.get(state, STATE_LABEL.get(state, state))}"

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        for i, state in enumerate(self.slots):
            painter.fillRect(self.slot_rect(i), QColor(colour(state)))
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            i = self.slot_at(event.pos())
            if i is not None:
                QToolTip.showText(event.globalPos(), self.slot_tip(i), self)
                return True
        return super().event(event)
