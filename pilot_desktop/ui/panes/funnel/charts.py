"""The Delivery tab's two small charts, drawn with QPainter (no chart library).

Each chart takes a plain record from `stats` and draws it; `lines()` returns the texts it
draws, which is also its accessible description (and what the tests read).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from pilot_desktop.core.format import duration, percent
from pilot_desktop.ui.panes.funnel.stats import BUCKETS, Latency, Step, axis_position

# The same hues as the rest of the window (status bar, banner): green is good, red failed.
STEP_COLORS = {"Sent": "#3182ce", "Delivered": "#38a169", "Read": "#2f855a", "Failed": "#e53e3e"}
BAR_COLOR = "#4299e1"
MEDIAN_COLOR = "#dd6b20"
P90_COLOR = "#805ad5"


def _muted(widget: QWidget) -> QColor:
    color = widget.palette().color(QPalette.ColorRole.Text)
    color.setAlphaF(0.55)
    return color


def _track(widget: QWidget) -> QColor:
    color = widget.palette().color(QPalette.ColorRole.Text)
    color.setAlphaF(0.08)
    return color


class FunnelChart(QWidget):
    """Horizontal bars: sent → delivered → read, and failed in red, each as a share of the
    period's outbound messages."""

    ROW = 28
    BAR = 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[Step] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_steps(self, steps: list[Step]) -> None:
        self.steps = steps
        self.setAccessibleDescription("; ".join(self.lines()))
        self.updateGeometry()
        self.update()

    @staticmethod
    def value_text(step: Step) -> str:
        return f"{step.count:,}  ·  {percent(step.rate)}"

    def lines(self) -> list[str]:
        return [f"{s.label}: {self.value_text(s)}" for s in self.steps]

    def sizeHint(self) -> QSize:
        return QSize(480, self.ROW * max(len(self.steps), 4) + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(260, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = QFontMetrics(self.font())
        label_w = fm.horizontalAdvance("Delivered") + 14
        value_w = fm.horizontalAdvance("100,000  ·  100.0%") + 14
        bar_w = max(40, self.width() - label_w - value_w)
        text = self.palette().color(QPalette.ColorRole.Text)
        for i, step in enumerate(self.steps):
            top = 2 + i * self.ROW
            mid = top + self.ROW / 2
            p.setPen(text)
            p.drawText(QRectF(0, top, label_w - 8, self.ROW), Qt.AlignmentFlag.AlignVCenter, step.label)
            track = QRectF(label_w, mid - self.BAR / 2, bar_w, self.BAR)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(_track(self))
            p.drawRoundedRect(track, 3, 3)
            share = step.rate or 0.0
            if share > 0:
                fill = QRectF(track.left(), track.top(), max(3.0, bar_w * min(share, 1.0)), self.BAR)
                p.setBrush(QColor(STEP_COLORS.get(step.label, BAR_COLOR)))
                p.drawRoundedRect(fill, 3, 3)
            p.setPen(QColor(STEP_COLORS["Failed"]) if step.failure and step.count else text)
            p.drawText(
                QRectF(label_w + bar_w + 10, top, value_w, self.ROW),
                Qt.AlignmentFlag.AlignVCenter,
                self.value_text(step),
            )
        p.end()


class LatencyHistogram(QWidget):
    """Counts per log-scaled latency bucket, with the median and p90 marked on the axis."""

    def __init__(self, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.latency: Latency | None = None
        self.empty_text = empty_text
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_latency(self, latency: Latency) -> None:
        self.latency = latency
        self.setAccessibleName(latency.title)
        self.setAccessibleDescription("; ".join(self.lines()))
        self.update()

    def summary(self) -> str:
        lat = self.latency
        if lat is None or not lat.measured:
            return self.empty_text
        return f"median {duration(lat.median)}  ·  p90 {duration(lat.p90)}  ·  {lat.measured:,} measured"

    def lines(self) -> list[str]:
        if self.latency is None:
            return []
        return [
            f"{self.latency.title}: {self.summary()}",
            *(f"{b.label}: {n:,}" for b, n in zip(BUCKETS, self.latency.counts, strict=True)),
        ]

    def sizeHint(self) -> QSize:
        return QSize(520, 210)

    def minimumSizeHint(self) -> QSize:
        return QSize(300, 170)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.Text)
        bold = QFont(self.font())
        bold.setBold(True)
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.85))
        fm, sfm = QFontMetrics(self.font()), QFontMetrics(small)
        line = fm.height()
        title = self.latency.title if self.latency else ""
        p.setFont(bold)
        p.setPen(text)
        p.drawText(QRectF(0, 0, self.width(), line), Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(self.font())
        p.setPen(_muted(self))
        p.drawText(QRectF(0, line + 2, self.width(), line), Qt.AlignmentFlag.AlignLeft, self.summary())

        # Plot area: room above for the marks' labels and counts, below for bucket names.
        plot = QRectF(4, 2 * line + 8 + 2 * sfm.height(), self.width() - 8, 0)
        plot.setBottom(self.height() - sfm.height() - 6)
        slot = plot.width() / len(BUCKETS)
        p.setPen(QPen(_muted(self), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.setFont(small)
        for i, b in enumerate(BUCKETS):
            label = sfm.elidedText(b.label, Qt.TextElideMode.ElideRight, int(slot) - 2)
            p.drawText(
                QRectF(plot.left() + i * slot, plot.bottom() + 2, slot, sfm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                label,
            )
        lat = self.latency
        if lat is None or not lat.measured or plot.height() < 10:
            p.end()
            return
        peak = max(lat.counts)
        labels: list[tuple[QRectF, str]] = []
        for i, n in enumerate(lat.counts):
            if not n:
                continue
            h = max(2.0, (plot.height() - sfm.height()) * n / peak)
            bar = QRectF(plot.left() + i * slot + slot * 0.15, plot.bottom() - h, slot * 0.7, h)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(BAR_COLOR))
            p.drawRect(bar)
            text_w = sfm.horizontalAdvance(f"{n:,}") + 6
            box = QRectF(bar.center().x() - text_w / 2, bar.top() - sfm.height() - 1, text_w, sfm.height())
            labels.append((box, f"{n:,}"))
        # The marks: a dashed line each, labelled above the plot (p90 one line lower, so
        # close marks do not print over each other).
        for row, (name, value, color) in enumerate(
            (("median", lat.median, MEDIAN_COLOR), ("p90", lat.p90, P90_COLOR))
        ):
            if value is None:
                continue
            x = plot.left() + axis_position(value) * slot
            pen = QPen(QColor(color), 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            top = plot.top() - (2 - row) * sfm.height()
            p.drawLine(int(x), int(top + sfm.height()), int(x), int(plot.bottom()))
            p.setPen(QColor(color))
            label = f"{name} {duration(value)}"
            w = sfm.horizontalAdvance(label) + 4
            left = min(max(plot.left(), x - w / 2), plot.right() - w)
            p.drawText(QRectF(left, top, w, sfm.height()), Qt.AlignmentFlag.AlignHCenter, label)
        # The counts last, on the window's background, so a mark never hides one.
        for box, count in labels:
            p.fillRect(box, self.palette().color(QPalette.ColorRole.Window))
            p.setPen(text)
            p.drawText(box, Qt.AlignmentFlag.AlignHCenter, count)
        p.end()
