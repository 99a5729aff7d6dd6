"""Status bar segments that keep their meaning in a narrow window.

Each segment has forms, longest first ("● Listening http://127.0.0.1:8787/hooks/…",
"● Listening :8787"), a priority and whether it may be dropped. `fit` lays them out in the
room there is, by one rule: every segment wanted starts at its shortest form; while even
those do not fit, the lowest-priority droppable segment goes (events/min, last event, DB
size before anything else); the room left buys longer forms, the cheapest first. A segment
is only elided as a last resort (a window narrower than its shortest form); text() keeps
the whole first form (the tooltip has the detail).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QStyleOption,
    QStyleOptionToolButton,
    QStylePainter,
    QToolButton,
    QWidget,
)


@dataclass(eq=False)
class Slot:
    """One thing to place in the bar: a segment, or the temporary message while it lasts."""

    priority: int  # lower is more important
    droppable: bool
    widths: list[int] = field(default_factory=list)  # of its forms, longest first
    chosen: int = 0  # the form granted
    kept: bool = True


def fit(slots: Sequence[Slot], room: int, gap: int) -> None:
    """Choose which slots stay and which form each shows (see the module's docstring)."""
    order = sorted(slots, key=lambda s: s.priority)
    kept = list(order)

    def need() -> int:
        return sum(s.widths[-1] + gap for s in kept)

    while need() > room and (droppable := [s for s in kept if s.droppable]):
        kept.remove(droppable[-1])  # the lowest priority first
    for s in order:
        s.kept = s in kept
        s.chosen = len(s.widths) - 1
    spare = room - need()
    while True:  # longer forms, the cheapest first (ties: the more important)
        steps = [(s.widths[s.chosen - 1] - s.widths[s.chosen], s.priority, s) for s in kept if s.chosen > 0]
        steps = [step for step in steps if step[0] <= spare]
        if not steps:
            return
        cost, _, s = min(steps, key=lambda step: step[:2])
        s.chosen -= 1
        spare -= cost


class Segment:
    """What a segment widget adds to its Qt class (mixed in before it)."""

    slot: Slot
    reserve = ""  # a usual value ("999 events/min"): room kept for it while there is room
    shorter: tuple[str, ...] = ()
    wanted = True  # shown by its owner (a dropped segment is hidden by the fit, still wanted)
    on_change: Callable[[], None] | None = None  # the bar's fit

    def set_up(self, priority: int, droppable: bool = False, reserve: str = "") -> None:
        self.slot = Slot(priority, droppable)
        self.reserve = reserve
        widget = self.widget()
        widget.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)

    def widget(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def whole_text(self) -> str:
        raise NotImplementedError

    def base_width(self) -> int:
        """The Qt class's own size hint width for the whole text."""
        raise NotImplementedError

    def set_forms(self, text: str, *shorter: str) -> None:
        """The whole text and shorter forms of it, for a narrow window."""
        changed = text != self.whole_text() or tuple(shorter) != self.shorter
        self.shorter = tuple(s for s in shorter if s != text)
        if changed:
            self.set_whole(text)
            self.widget().update()
            self.changed()

    def set_whole(self, text: str) -> None:
        raise NotImplementedError

    def forms(self) -> list[tuple[str, int]]:
        """(text, width) of each form, longest first."""
        self.widget().ensurePolished()
        metrics = self.widget().fontMetrics()
        whole = self.whole_text()
        pad = self.base_width() - metrics.horizontalAdvance(whole) + 2
        out = [(t, metrics.horizontalAdvance(t) + pad) for t in (whole, *self.shorter)]
        if self.reserve and (w := metrics.horizontalAdvance(self.reserve) + pad) > out[0][1]:
            out.insert(0, (whole, w))
        return out

    def drawn(self) -> str:
        """The form chosen by the last fit (what the segment draws, elided only if narrower)."""
        forms = self.forms()
        return forms[min(self.slot.chosen, len(forms) - 1)][0]

    def chosen_width(self) -> int:
        forms = self.forms()
        return forms[min(self.slot.chosen, len(forms) - 1)][1]

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def place(self, shown: bool) -> None:
        """The fit's decision: shown (at the chosen form's width) or dropped for now."""
        widget = self.widget()
        QWidget.setVisible(widget, shown)
        widget.updateGeometry()
        widget.update()


class SegmentLabel(Segment, QLabel):
    def __init__(self, text: str, priority: int, *, droppable: bool = False, reserve: str = "") -> None:
        QLabel.__init__(self, text)
        self.set_up(priority, droppable, reserve)

    def whole_text(self) -> str:
        return self.text()

    def set_whole(self, text: str) -> None:
        self.setText(text)

    def base_width(self) -> int:
        return QLabel.sizeHint(self).width()

    def setVisible(self, visible: bool) -> None:
        self.wanted = visible
        QLabel.setVisible(self, visible and self.slot.kept)
        self.changed()

    def sizeHint(self) -> QSize:
        return QSize(self.chosen_width(), QLabel.sizeHint(self).height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, QLabel.minimumSizeHint(self).height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.drawn(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


class SegmentButton(Segment, QToolButton):
    def __init__(
        self, priority: int = 3, *, droppable: bool = False, reserve: str = "", parent: QWidget | None = None
    ) -> None:
        QToolButton.__init__(self, parent)
        self.setAutoRaise(True)
        self.set_up(priority, droppable, reserve)

    def whole_text(self) -> str:
        return self.text()

    def set_whole(self, text: str) -> None:
        self.setText(text)

    def base_width(self) -> int:
        return QToolButton.sizeHint(self).width()

    def setVisible(self, visible: bool) -> None:
        self.wanted = visible
        QToolButton.setVisible(self, visible and self.slot.kept)
        self.changed()

    def sizeHint(self) -> QSize:
        return QSize(self.chosen_width(), QToolButton.sizeHint(self).height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, QToolButton.minimumSizeHint(self).height())

    def paintEvent(self, event: QPaintEvent) -> None:
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        text = self.drawn()
        room = self.width() - (self.base_width() - self.fontMetrics().horizontalAdvance(self.text()))
        option.text = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 10))
        QStylePainter(self).drawComplexControl(QStyle.ComplexControl.CC_ToolButton, option)


Shown = SegmentLabel | SegmentButton


def paint_message(bar: QStatusBar, message: str, segments: Sequence[Shown]) -> None:
    """QStatusBar's drawing with a temporary message, the message elided left of the first
    segment shown (QStatusBar would cut it)."""
    painter = QPainter(bar)
    option = QStyleOption()
    option.initFrom(bar)
    bar.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, bar)
    shown = [s for s in segments if s.isVisible()]
    for s in shown:
        item = QStyleOption()
        item.rect = s.geometry().adjusted(-2, -1, 2, 1)
        item.palette = bar.palette()
        bar.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem, item, painter, s)
    right = min((s.geometry().x() for s in shown), default=bar.width() - 10) - 2
    rect = QRect(6, 0, max(0, right - 6), bar.height())
    text = bar.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, rect.width())
    painter.setPen(bar.palette().windowText().color())
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
