"""The coloured status badge (a table delegate and a label for the timeline's header), and
the Number column's delegate."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.model import BADGE_ROLE


class BadgeDelegate(QStyledItemDelegate):
    """Paints the cell's (text, colour) as a rounded pill with white text."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        badge = index.data(BADGE_ROLE)
        if not badge:
            super().paint(painter, option, index)
            return
        text, color = badge
        rect = option.rect
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = option.fontMetrics
        width = min(rect.width() - 6, metrics.horizontalAdvance(text) + 14)
        pill = QRectF(rect.left() + 3, rect.top() + 2, width, rect.height() - 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 14, hint.height())


def badge_label(status: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    set_badge(label, status)
    return label


def set_badge(label: QLabel, status: str) -> None:
    label.setText(style.status_text(status))
    label.setToolTip(style.STATUS_HELP.get(status, ""))
    label.setStyleSheet(
        f"QLabel {{ background: {style.status_color(status)}; color: white; border-radius: 9px;"
        " padding: 2px 10px; font-weight: bold; }"
    )
