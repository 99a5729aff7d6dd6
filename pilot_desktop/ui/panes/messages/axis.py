"""The timeline's time axis: a dot per step at its event time, durations on the segments.

Positions follow the event times on a compressed scale (log of each gap plus a floor), so
a 2 s delivery and a 3 h read are both readable and never overlap; the exact durations
are written on the segments. Steps not reached yet are hollow grey dots after the last;
steps reconstructed from the API (not delivered by a webhook) are hollow dots with a dashed
ring. Times nothing was received (gaps) are shaded bands behind the axis, placed on the same
scale (linear between the neighbouring dots), with their reason in a tooltip (the timeline
lists them below the axis in the same colour).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from pilot_desktop.core.format import duration
from pilot_desktop.ui.panes.messages import style

MIN_GAP = 150.0  # px between dots: room for their labels
MARGIN = 70.0
_DOT = 7.0
HEIGHT = 100
GAP_COLOR = "#dd6b20"  # the bands' edge; filled with it, mostly transparent


@dataclass(frozen=True, slots=True)
class AxisPoint:
    label: str  # 'Sent', 'Delivered', ...
    at: float | None  # event time (unix seconds); None for a pending step
    color: str
    time_text: str = ""  # under the dot
    note: str = ""  # under the time: the arrival delay, 'pending', ...
    late: bool = False
    deliveries: int = 1
    reconstructed: bool = False  # read back from the API, not delivered by a webhook

    @property
    def pending(self) -> bool:
        return self.at is None


@dataclass(frozen=True, slots=True)
class Band:
    """A time nothing was received: from `start` to `end` (None: still going)."""

    start: float
    end: float | None
    tip: str  # the tooltip: reason, duration


def time_to_x(anchors: list[tuple[float, float]], t: float, left: float, right: float) -> float:
    """x of a moment on the axis: linear between the two dots around it (the axis scale is
    compressed per segment), into the margins beyond the first and last."""
    if not anchors:
        return left
    if t <= anchors[0][0]:
        return left if t < anchors[0][0] else anchors[0][1]
    for (ta, xa), (tb, xb) in itertools.pairwise(anchors):
        if t <= tb:
            return xa + (xb - xa) * ((t - ta) / (tb - ta) if tb > ta else 1.0)
    return right if t > anchors[-1][0] else anchors[-1][1]


def positions(times: list[float | None], left: float, right: float, min_gap: float = MIN_GAP) -> list[float]:
    """x of each point: gaps weighted by log(1 + seconds) + 1, at least `min_gap` apart
    while the width allows. A None time (pending) takes a plain unit gap."""
    n = len(times)
    if n == 0:
        return []
    if n == 1:
        return [left]
    weights: list[float] = []
    for a, b in itertools.pairwise(times):
        gap = (b - a) if a is not None and b is not None else 0.0
        weights.append(math.log1p(max(0.0, gap)) + 1.0)
    avail = max(0.0, right - left)
    segments = n - 1
    floor = min(min_gap, avail / segments)
    extra = avail - floor * segments
    total = sum(weights)
    xs = [left]
    for w in weights:
        xs.append(xs[-1] + floor + extra * w / total)
    return xs


def segment_text(a: AxisPoint, b: AxisPoint, now: float | None) -> str:
    """What is written on the segment from a to b: the duration, or the wait so far."""
    if a.at is not None and b.at is not None:
        return duration(max(0.0, b.at - a.at))
    if a.at is not None and b.pending and now is not None:
        return f"{duration(max(0.0, now - a.at))} so far"
    return ""


class TimelineAxis(QWidget):
    step_did_select = Signal(int)  # index into the points (pending ones are not selectable)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[AxisPoint] = []
        self.bands: list[Band] = []
        self._band_rects: list[tuple[QRectF, Band]] = []
        self.now: float | None = None
        self.selected = -1
        self._xs: list[float] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_points(self, points: list[AxisPoint], now: float | None = None) -> None:
        self.points = points
        self.now = now
        if self.selected >= len(points):
            self.selected = -1
        self.setMinimumWidth(int(MARGIN * 2 + MIN_GAP * max(0, len(points) - 1)))
        self.updateGeometry()
        self.update()

    def set_bands(self, bands: list[Band]) -> None:
        self.bands = bands
        self.update()

    def band_rects(self) -> list[tuple[QRectF, Band]]:
        """Where each band is drawn (after a paint; for tooltips and tests)."""
        return list(self._band_rects)

    def _anchors(self, xs: list[float]) -> list[tuple[float, float]]:
        """(time, x) of the dots with a time; with steps pending, `now` sits at the first of them."""
        anchors = [(p.at, x) for p, x in zip(self.points, xs, strict=True) if p.at is not None]
        pending = [x for p, x in zip(self.points, xs, strict=True) if p.pending]
        if pending and self.now is not None and (not anchors or self.now > anchors[-1][0]):
            anchors.append((self.now, pending[0]))
        anchors.sort()
        return anchors

    def _layout_bands(self, xs: list[float]) -> list[tuple[QRectF, Band]]:
        anchors = self._anchors(xs)
        left, right = 6.0, self.width() - 6.0
        rects = []
        for band in self.bands:
            end = band.end if band.end is not None else (self.now if self.now is not None else band.start)
            x1 = time_to_x(anchors, band.start, left, right)
            x2 = time_to_x(anchors, max(end, band.start), left, right)
            if x2 - x1 < 8:  # a short gap is still seen and pointed at
                mid = (x1 + x2) / 2
                x1, x2 = mid - 4, mid + 4
            rects.append((QRectF(x1, 26, x2 - x1, 44), band))
        return rects

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            pos = QPointF(event.pos())
            for rect, band in self._band_rects:
                if rect.contains(pos):
                    QToolTip.showText(event.globalPos(), band.tip, self)
                    return True
            QToolTip.hideText()
            event.ignore()
            return True
        return super().event(event)

    def select(self, index: int) -> None:
        self.selected = index
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(int(MARGIN * 2 + MIN_GAP * max(1, len(self.points) - 1)), HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.minimumWidth(), HEIGHT)

    def _layout(self) -> list[float]:
        self._xs = positions([p.at for p in self.points], MARGIN, self.width() - MARGIN)
        return self._xs

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        for i, x in enumerate(self._xs):
            if abs(pos.x() - x) <= 40 and not self.points[i].pending:
                self.select(i)
                self.step_did_select.emit(i)
                return
        super().mousePressEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        xs = self._layout()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        grey = QColor(style.PENDING_COLOR)
        y = 46.0
        base = self.font()
        small = QFont(base)
        small.setPointSizeF(max(7.0, base.pointSizeF() * 0.88))
        bold = QFont(base)
        bold.setBold(True)
        italic = QFont(small)
        italic.setItalic(True)
        if not self.points:
            p.setPen(grey)
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), "No steps recorded")
            return
        # Gaps first, behind the line and the dots.
        self._band_rects = self._layout_bands(xs)
        edge = QColor(GAP_COLOR)
        fill = QColor(GAP_COLOR)
        fill.setAlpha(36)
        hatch = QColor(GAP_COLOR)
        hatch.setAlpha(90)  # light enough for the segment's text over it
        for rect, _ in self._band_rects:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRect(rect)
            p.setBrush(QBrush(hatch, Qt.BrushStyle.BDiagPattern))
            p.drawRect(rect)
            p.setPen(QPen(edge, 1, Qt.PenStyle.DashLine))
            p.drawLine(rect.topLeft(), rect.bottomLeft())
            p.drawLine(rect.topRight(), rect.bottomRight())
        p.setBrush(Qt.BrushStyle.NoBrush)
        # Segments, with their durations above the line.
        for i in range(len(xs) - 1):
            a, b = self.points[i], self.points[i + 1]
            pen = QPen(grey if b.pending else text, 2)
            if b.pending:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(QPointF(xs[i] + _DOT, y), QPointF(xs[i + 1] - _DOT, y))
            label = segment_text(a, b, self.now)
            if label:
                p.setFont(small)
                p.setPen(grey if b.pending else text)
                box = QRectF(xs[i], y - 20, xs[i + 1] - xs[i], 16)
                p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), label)
        # Dots and their labels.
        for i, (x, point) in enumerate(zip(xs, self.points, strict=True)):
            color = grey if point.pending else QColor(point.color)
            if i == self.selected:
                p.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 3))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(QPointF(x, y), _DOT + 4, _DOT + 4)
            p.setPen(QPen(QColor(style.LATE_COLOR) if point.late else color, 3 if point.late else 2))
            if point.reconstructed:  # hollow, a dashed ring: never read as a delivered webhook
                p.setBrush(self.palette().color(QPalette.ColorRole.Window))
                p.drawEllipse(QPointF(x, y), _DOT, _DOT)
                p.setPen(QPen(color, 1.5, Qt.PenStyle.DotLine))
                p.drawEllipse(QPointF(x, y), _DOT + 3, _DOT + 3)
            else:
                p.setBrush(Qt.BrushStyle.NoBrush if point.pending else color)
                p.drawEllipse(QPointF(x, y), _DOT, _DOT)
            head = point.label
            if point.deliveries > 1:
                head += f"  ×{point.deliveries}"
            if point.late:
                head += "  ⚑ late"
            p.setFont(bold)
            p.setPen(color if point.pending else text)
            p.drawText(QRectF(x - 75, 6, 150, 18), int(Qt.AlignmentFlag.AlignCenter), head)
            p.setFont(small)
            p.setPen(text)
            p.drawText(QRectF(x - 75, y + 12, 150, 16), int(Qt.AlignmentFlag.AlignCenter), point.time_text)
            p.setPen(QColor(style.LATE_COLOR) if point.late else grey)
            if point.reconstructed:
                p.setFont(italic)
            p.drawText(QRectF(x - 75, y + 30, 150, 16), int(Qt.AlignmentFlag.AlignCenter), point.note)
        p.end()
