"""A poll result older than the number's state is never shown as a fact beside it (issue 17,
point 3; review R1 item 3): the number's detail (Meta health, `sendable`) read while it was
still connecting says "not sendable"; a webhook then says it connected. Until the detail is
read again, the card and the detail pane say when it was read and that it came before the
connection, in neutral words (no red "not sendable" next to "Connected"), and the poller
reads the detail again at its next round instead of ten minutes later.

Real receiver, writer, store, poller and sandbox (paused: its numbers stay connecting until
the test pairs one), on a real offscreen Qt loop."""

from __future__ import annotations

import time
from pathlib import Path

from pilot_desktop.sandbox.server import Sandbox
from tests.gui.support import until
from tests.gui.test_numbers_pane import _quick, number_event, plain, running_app, sandbox  # noqa: F401

RED_NOT_SENDABLE = "color: #c53030'>not sendable"


async def test_a_detail_read_before_the_number_connected_is_marked_stale_then_read_again(
    data_dir: Path,
    sandbox: Sandbox,  # noqa: F811
) -> None:
    number = sandbox.numbers[0]
    async with running_app(data_dir, sandbox) as app:
        pane = app.pane
        # The first poll reads the detail while the number is connecting: not sendable, true then.
        await until(lambda: number.id in pane.cards and "not sendable" in plain(app.card(number.id).meta))
        card = app.card(number.id)
        assert RED_NOT_SENDABLE in card.meta.text()  # a fact about the state shown: in red

        # A webhook: it connected after that read.
        await app.post(number_event("number.connected", number.id, time.time(), number.name))
        await until(lambda: plain(card.state).startswith("Connected"))
        await pane.settled()
        meta = plain(card.meta)
        assert RED_NOT_SENDABLE not in card.meta.text(), meta
        assert "before it connected" in meta, meta  # when it was read, and that it is older
        pane.select(number.id)
        await pane.settled()
        facts = pane.detail.facts.text()
        assert "Connected since" in facts
        assert "color: #c53030'>Not sendable" not in facts and RED_NOT_SENDABLE not in facts, facts
        assert "before it connected" in plain(pane.detail.facts), facts

        # The platform agrees it is connected: the next round reads the detail again (it is not
        # due for ten minutes otherwise), and the card shows the new reading as the fact.
        sandbox.scenario._lines[number.id].state = "OPEN"  # the sandbox pairs it
        assert app.polling is not None
        await app.polling.poller.poll_once()
        await until(lambda: "before it connected" not in plain(card.meta))
        await pane.settled()
        assert "not sendable" not in plain(card.meta)
        assert plain(card.state).startswith("Connected")
        assert "before it connected" not in plain(pane.detail.facts)
