"""The tray icon: the app's mark filled with the numbers' worst state's colour."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

COLOURS = {"ok": "#2f9e44", "warn": "#e8890c", "down": "#d63a3a", "none": "#8a949e"}

_icons: dict[str, QIcon] = {}


def tray_icon(level: str) -> QIcon:
    """The app's mark (a pulse line on a rounded square) filled with the level's colour."""
    if level not in _icons:
        icon = QIcon()
        for size in (16, 22, 24, 32, 48, 64):
            icon.addPixmap(_draw(COLOURS.get(level, COLOURS["none"]), size))
        _icons[level] = icon
    return _icons[level]


def _draw(colour: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    s = size / 64  # drawn on the 64-unit grid of resources' app.svg
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(colour))
    p.drawRoundedRect(QRectF(2 * s, 2 * s, 60 * s, 60 * s), 14 * s, 14 * s)
    pulse = QPainterPath(QPointF(12 * s, 36 * s))
    for x, y in ((22, 36), (27, 22), (35, 48), (41, 30), (45, 36), (52, 36)):
        pulse.lineTo(QPointF(x * s, y * s))
    pen = QPen(QColor("#ffffff"), max(1.5, 5 * s))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(pulse)
    p.end()
    return pixmap
