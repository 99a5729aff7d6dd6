"""The Numbers tab at the smallest window (issue 17, point 7; review R1 items 12 and 14): at
640x420 the cards get most of the height (the detail under them shrinks and scrolls), the
strip legend keeps to one line, and the secondary words (the legend, "Live state checked
every…", a card's "last webhook…") are readable: WCAG contrast 4.5:1 at least against what
they are drawn on, not Qt's palette(mid) grey (about 2:1)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel

from pilot_desktop.ui.look import contrast
from tests.gui.support import until
from tests.gui.test_numbers_pane import _quick, number_event, running_app  # noqa: F401


def text_colour(label: QLabel) -> QColor:
    """The colour `label`'s words are drawn in (its style sheet applied)."""
    label.ensurePolished()
    return label.palette().color(QPalette.ColorRole.WindowText)


async def test_at_640x420_the_cards_get_the_room_and_the_hints_are_readable(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        now = time.time()
        await app.post(
            number_event("number.connected", "num_A", now - 60, "Loja Centro"),
            number_event("number.connected", "num_B", now - 60, "Loja Norte"),
        )
        await until(lambda: len(app.pane.cards) == 2)
        await app.pane.settled()
        app.window.resize(640, 420)
        await until(lambda: app.pane.split.sizes()[1] > 0 and app.window.width() <= 660)
        pane = app.pane
        cards, detail = pane.split.sizes()
        assert cards >= 2.5 * detail, (cards, detail)  # the list first; the detail a strip below
        line = pane.legend.fontMetrics().lineSpacing()
        assert pane.legend.height() < 2 * line, pane.legend.height()  # one line, not wrapped
        window = pane.palette().color(QPalette.ColorRole.Window)
        for label in (pane.legend, pane.polling_label):
            assert contrast(text_colour(label), window) >= 4.5, label.text()
        card = app.card("num_A")
        base = card.palette().color(QPalette.ColorRole.Base)  # a card is drawn on the base colour
        for label in (card.last, card.phone, card.webhooks, card.state):
            assert contrast(text_colour(label), base) >= 4.5, label.text()
