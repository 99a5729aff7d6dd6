"""The 24 h uptime strip: one small cell per half hour, coloured by the rule of
core/numbers.py slot_state (any drop red; amber only for connecting a minute or more; grey
only where nothing is known), its tooltip the states in that half hour and since when, and
the legend saying what the colours mean."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QToolTip, QWidget

from pilot_desktop.core.format import elapsed
from pilot_desktop.core.number_words import state_label
from pilot_desktop.core.numbers import (
    CLOSED,
    CONNECTING,
    CONNECTING_SHOWN_S,
    OPEN,
    REMOVED,
    UNKNOWN,
    Span,
    slot_state,
    strip_spans,
)
from pilot_desktop.ui.look import hint_style
from pilot_desktop.ui.panes.numbers.text import colour

CELL_W, GAP, HEIGHT = 6, 1, 16
SLOTS = 48
LEGEND = (
    (OPEN, "connected"),
    (CONNECTING, f"connecting {int(CONNECTING_SHOWN_S // 60)} min or more"),
    (CLOSED, "disconnected"),  # at any moment of the half hour: the tooltip says so
    (REMOVED, "removed"),
    (UNKNOWN, "not known yet"),
)


def _clock(at: float) -> str:
    return f"{datetime.fromtimestamp(at):%H:%M}"


def slot_words(spans: Sequence[Span], start: float, end: float, now: float) -> str:
    """'10:30–now: Connected since 10:57 (3 min); Connecting 10:56–10:57; not known before 10:56'."""
    current = end >= now - 1
    head = f"{_clock(start)}–{'now' if current else _clock(end)}"
    if not spans:
        return f"{head}: not known (before the number was first seen)"
    parts = []
    for i, (a, b, state) in enumerate(reversed(spans)):  # newest first
        words = state_label(state)
        if i == 0 and current:
            parts.append(f"{words} since {_clock(a)} ({elapsed(now - a)})")
        elif len(spans) == 1:
            parts.append(words)
        else:
            parts.append(f"{words} {_clock(a)}–{_clock(b)}")
    if spans[0][0] > start + 1:
        parts.append(f"not known before {_clock(spans[0][0])}")
    return f"{head}: " + "; ".join(parts)


class UptimeStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spans: list[list[Span]] = []
        self.slots: list[str] = []
        self.since = 0.0
        self.until = 0.0
        self.setMouseTracking(True)
        self.setToolTip("Last 24 hours, oldest on the left; one cell per half hour")

    def set_history(self, history: Sequence[tuple[float, str]], since: float, until: float) -> None:
        """(time, connection state) changes, the one before `since` included."""
        spans = strip_spans(list(history), since, until, SLOTS)
        slots = [slot_state(s) for s in spans]
        if (slots, since // 60, until // 60) == (self.slots, self.since // 60, self.until // 60):
            self.spans, self.since, self.until = spans, since, until  # tips stay exact
            return  # nothing to redraw
        self.spans, self.slots, self.since, self.until = spans, slots, since, until
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
        return slot_words(self.spans[i], start, end, self.until)  # until: the read's "now"

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


class StripLegend(QLabel):
    """What the strips' colours mean, once above the cards (wraps in a narrow window)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        items = " &nbsp; ".join(
            f"<span style='color: {colour(state)}'>■</span>&nbsp;{html.escape(words).replace(' ', '&nbsp;')}"
            for state, words in LEGEND
        )
        super().__init__(f"24 h: &nbsp;{items}", parent)  # one line at 640 px
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setStyleSheet(hint_style(self))  # readable words (palette(mid) is about 2:1)
        self.setToolTip(
            "One cell per half hour, oldest on the left. A cell is red when the number was "
            "disconnected at any moment in it, amber when it was connecting for "
            f"{int(CONNECTING_SHOWN_S // 60)} minute or more (a pairing or reconnection that "
            "takes seconds is not shown), green when connected, grey where nothing is known."
        )
