"""The Numbers pane never contradicts a number's state (issue 17, point 3), through the real
receiver, writer and store: a disconnected number wears no green "healthy" badge, the strip's
current half hour of a number connected three minutes ago says connected since then, a
pairing that takes seconds is not amber, and the strip has a legend."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QColor

from pilot_desktop.ui.panes.numbers.strip import LEGEND
from tests.gui.support import until
from tests.gui.test_numbers_pane import GREEN, near, number_event, plain, running_app

AMBER = QColor("#d69e2e")


async def test_state_badge_strip_and_legend_agree_with_the_state(data_dir: Path) -> None:
    now = time.time()
    async with running_app(data_dir) as app:
        await app.post(
            # A: created 3 min ago, paired 4 s later (the demo's numbers do this).
            number_event("number.created", "num_A", now - 184, "Loja Centro"),
            number_event("number.connected", "num_A", now - 180, "Loja Centro"),
            # B: connected for hours, then dropped.
            number_event("number.connected", "num_B", now - 5 * 3600, "Loja Norte"),
            number_event("number.disconnected", "num_B", now - 600, "Loja Norte"),
        )
        await app.shown("num_A", "Connected · 3 min")
        await app.shown("num_B", "Disconnected · 10 min")
        a, b = app.card("num_A"), app.card("num_B")
        # The health pill: green "healthy" only on the connected number.
        assert a.health.isVisibleTo(a) and a.health.text() == "healthy"
        assert not b.health.isVisibleTo(b)
        # The current half hour of A: connected, since when; green, not amber.
        strip = a.strip
        assert strip.slots[-1] == "OPEN"
        tip = strip.slot_tip(len(strip.slots) - 1)
        assert "–now: Connected since" in tip and "(3 min)" in tip, tip
        assert "not known before" in tip
        image = strip.grab().toImage()
        last = image.pixelColor(strip.slot_rect(len(strip.slots) - 1).center())
        assert near(last, GREEN) and not near(last, AMBER)
        assert "not known" in strip.slot_tip(0)  # before A was first seen: grey, said so
        # B: red from the drop on; the slots before are connected (green).
        assert b.strip.slots[-1] == "CLOSED" and b.strip.slots[-5] == "OPEN"
        # The legend, once above the cards: every colour the strips use, in words.
        legend = app.pane.legend
        assert legend.isVisibleTo(app.pane)
        words = " ".join(w for _, w in LEGEND)
        assert "connecting 1 min or more" in words and "disconnected" in words and "not known" in words
        # A drops now: red at once, and no "healthy" badge left on it.
        await app.post(number_event("number.disconnected", "num_A", time.time() - 1, "Loja Centro"))
        await until(lambda: a.strip.slots[-1] == "CLOSED")
        assert not a.health.isVisibleTo(a)
        assert plain(app.pane.overall_label).startswith("0 of 2 numbers connected")
