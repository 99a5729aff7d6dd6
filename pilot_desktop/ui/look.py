"""How the panes and their dialogs stay readable: text colours with enough contrast against
the background they are drawn on, and dialogs no larger than their window (the Webhooks
tables' columns are shared by need: ui/panes/webhooks/columns.py).

Contrast is the WCAG 2 ratio; 4.5:1 is its minimum for body text. A colour that misses it
against the widget's own palette (light or dark theme) is moved towards black or white
until it has it, so the pane's hues survive on any theme but never become unreadable.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QTableWidget, QWidget

MIN_CONTRAST = 4.5
AMBER, GREEN, RED, ORANGE = "#975a16", "#276749", "#c53030", "#c05621"


def _luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(color: QColor | str, background: QColor) -> QColor:
    """`color`, or the nearest shade of it (darker on a light background, lighter on a dark
    one) with at least MIN_CONTRAST against `background`."""
    result = QColor(color)
    target = QColor("black") if _luminance(background) > 0.18 else QColor("white")
    step = 0
    while contrast(result, background) < MIN_CONTRAST and step < 20:
        step += 1
        t = step / 20
        result = QColor.fromRgbF(
            result.redF() + (target.redF() - result.redF()) * t,
            result.greenF() + (target.greenF() - result.greenF()) * t,
            result.blueF() + (target.blueF() - result.blueF()) * t,
        )
    return result


def muted(palette: QPalette) -> QColor:
    """Secondary text (hints, notes): half way from the text to the window colour, then
    brought back to a readable contrast (Qt's `palette(mid)` is about 2:1, too faint)."""
    text, window = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    mix = QColor.fromRgbF(
        (text.redF() + window.redF()) / 2,
        (text.greenF() + window.greenF()) / 2,
        (text.blueF() + window.blueF()) / 2,
    )
    return readable(mix, window)


def hint_style(widget: QWidget, extra: str = "") -> str:
    return f"color: {muted(widget.palette()).name()}; {extra}".strip()


def tint(widget: QWidget, color: QColor | str, extra: str = "") -> str:
    """A style sheet colouring `widget`'s text `color`, made readable on its window colour."""
    shade = readable(color, widget.palette().color(QPalette.ColorRole.Window))
    return f"color: {shade.name()}; {extra}".strip()


def hint_label(text: str, extra: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(hint_style(label, extra))
    return label


def cell_colour(table: QTableWidget, color: str) -> QColor:
    """A table cell's text colour, readable on the table's base and alternate rows."""
    palette = table.palette()
    shade = readable(color, palette.color(QPalette.ColorRole.Base))
    return readable(shade, palette.color(QPalette.ColorRole.AlternateBase))


def fit_to_window(dialog: QWidget, parent: QWidget | None, width: int, height: int) -> None:
    """Open `dialog` at width x height, or smaller to fit the window it belongs to (else the
    screen), so a dialog from a 640x420 window is not larger than it."""
    room = parent.window().size() if parent is not None else None
    screen = dialog.screen().availableGeometry().size() if dialog.screen() is not None else None
    for limit in (room, screen):
        if limit is not None and limit.width() > 0 and limit.height() > 0:
            width, height = min(width, limit.width()), min(height, limit.height())
    dialog.resize(width, height)
