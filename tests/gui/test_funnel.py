"""The Delivery tab and the status bar's stuck count, against the real receiver and store.

Webhook bodies go through the real aiohttp receiver into the real writer and message
projection in a temporary data dir; the window reads them back. Async tests run on the
Qt loop and poll with `until` (never qtbot.waitUntil: a nested Qt loop runs no asyncio).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pilot_desktop.services.config import Config
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.settings import MessageSettings, Settings
from pilot_desktop.store.reads import Reads
from pilot_desktop.ui import status_bar
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.funnel import pane as pane_module
from pilot_desktop.ui.panes.funnel.deadlines import DeadlinesDialog
from pilot_desktop.ui.panes.funnel.pane import DeliveryPane
from pilot_desktop.ui.panes.funnel.stats import HOUR, PERIODS
from tests.gui.support import close_app, memory_core, open_window, until

NOW = time.time()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(name: str, msg: str, number: str, at: float, **extra: Any) -> dict[str, Any]:
    return {
        "event": name,
        "data": {
            "numberId": number,
            "id": msg,
            "messageId": f"wamid.{msg}",
            "fromMe": name != "message.received",
            "createdAt": iso(at),
            "to": "+5511912345678",
            "from": "+5511900000001",
            "content": f"text of {msg}",
            **extra,
        },
    }


class App:
    def __init__(
        self, runtime: Runtime, window: MainWindow, session: aiohttp.ClientSession, config: Config
    ) -> None:
        self.runtime = runtime
        self.window = window
        self.session = session
        self.config = config

    @property
    def settings(self) -> Settings:
        return self.config.settings.value

    @property
    def pane(self) -> DeliveryPane:
        assert self.window.delivery is not None
        return self.window.delivery

    async def post(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:  # one at a time: 2xx means committed and projected
            async with self.session.post(self.runtime.hook_url, data=json.dumps(body).encode()) as resp:
                assert resp.status == 200, await resp.text()

    def show_delivery(self) -> None:
        self.window.tabs.setCurrentWidget(self.pane)

    async def choose(self, number: str | None, period: int) -> None:
        """Pick a number and a period as the user would, and wait for those figures."""
        pane = self.pane
        if number is not None:
            await until(lambda: pane.number_combo.findData(number) >= 0)
        pane.number_combo.setCurrentIndex(pane.number_combo.findData(number) if number else 0)
        pane.period_combo.setCurrentIndex(period)
        await self.settle()
        snap = pane.snapshot
        assert snap is not None
        assert (snap.number, snap.until - snap.since) == (number, PERIODS[period][1])

    async def settle(self) -> None:
        await self.pane.settled()


@asynccontextmanager
async def running_app(data_dir: Path, deadlines: MessageSettings | None = None) -> AsyncIterator[App]:
    config = Config.open(resolve(data_dir))  # the deadlines are saved in the real file
    deadlines = deadlines or MessageSettings()
    config.settings.update({"receiver.port": 0, "messages": deadlines})
    core = memory_core(data_dir, config=config)
    window = await open_window(core)
    window.show()
    try:
        async with aiohttp.ClientSession() as session:
            yield App(core.runtime, window, session, config)
    finally:
        await close_app(window, core)


def rows(pane: DeliveryPane) -> list[list[str]]:
    t = pane.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]  # type: ignore[union-attr]


# A minute ago and three hours ago: inside "last hour" and only inside "last 24 hours".
RECENT, EARLIER = NOW - 20 * 60, NOW - 3 * HOUR
TRAFFIC = [
    # num_A, last hour: read; delivered; only sent; failed
    event("message.sent", "a1", "num_A", RECENT),
    event("message.delivered", "a1", "num_A", RECENT + 3),
    event("message.read", "a1", "num_A", RECENT + 43),
    event("message.sent", "a2", "num_A", RECENT),
    event("message.delivered", "a2", "num_A", RECENT + 90),
    event("message.sent", "a3", "num_A", RECENT),
    event("message.sent", "a4", "num_A", RECENT),
    event("message.failed", "a4", "num_A", RECENT + 5, error="timeout", errorCode="DELIVERY_TIMEOUT"),
    # num_A, three hours ago: sent, never delivered
    event("message.sent", "a5", "num_A", EARLIER),
    # num_B, last hour: delivered in 7 s; and an inbound message (never in the funnel)
    event("message.sent", "b1", "num_B", RECENT),
    event("message.delivered", "b1", "num_B", RECENT + 7),
    event("message.received", "in1", "num_B", RECENT),
]


async def test_delivery_tab_shows_the_figures_of_a_number_and_period(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        pane = app.pane
        app.show_delivery()
        await app.settle()
        assert pane.stack.currentWidget() is pane.empty_hint
        assert "Delivery figures appear here" in pane.empty_hint.text()

        await app.post(*TRAFFIC)
        await app.choose("num_A", 0)  # last hour
        assert pane.funnel_chart.lines() == [
            "Sent: 4  ·  100.0%",
            "Delivered: 2  ·  50.0%",
            "Read: 1  ·  25.0%",
            "Failed: 1  ·  25.0%",
        ]
        assert "<b>4</b> outbound messages first seen in the last hour, num_A" in pane.summary.text()
        # sent→delivered: 3 s and 90 s; delivered→read: 40 s (nearest-rank median and p90)
        assert pane.delivered_chart.summary() == "median 3.0 s  ·  p90 1 min 30 s  ·  2 measured"
        assert pane.delivered_chart.latency is not None
        assert pane.delivered_chart.latency.counts == [0, 1, 0, 1, 0, 0, 0]
        assert pane.read_chart.summary() == "median 40 s  ·  p90 40 s  ·  1 measured"
        assert not pane.table.isVisibleTo(pane)  # the per-number table is for "All numbers"
        assert not pane.funnel_chart.grab().isNull()  # and the charts draw
        assert not pane.delivered_chart.grab().isNull()

        await app.choose("num_A", 1)  # last 24 hours: the older, undelivered one counts too
        assert pane.funnel_chart.lines() == [
            "Sent: 5  ·  100.0%",
            "Delivered: 2  ·  40.0%",
            "Read: 1  ·  20.0%",
            "Failed: 1  ·  20.0%",
        ]

        await app.choose(None, 0)  # all numbers, last hour
        assert pane.funnel_chart.lines()[:2] == ["Sent: 5  ·  100.0%", "Delivered: 3  ·  60.0%"]
        assert pane.table.isVisibleTo(pane)
        assert rows(pane) == [
            ["num_A", "4", "50.0%", "25.0%", "25.0%", "3.0 s"],
            ["num_B", "1", "100.0%", "0.0%", "0.0%", "7.0 s"],
        ]

        await app.choose("num_B", 3)  # a number with nothing in the period still shows its tab
        assert pane.funnel_chart.lines()[0] == "Sent: 1  ·  100.0%"


async def test_delivery_tab_names_the_numbers_it_knows(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        pane = app.pane
        app.show_delivery()
        named = {"numberId": "num_A", "phone": "+5511999990000", "displayName": "Loja Centro"}
        await app.post(*TRAFFIC, {"event": "number.connected", "data": named})
        await app.choose(None, 0)
        assert [r[0] for r in rows(pane)] == ["Loja Centro · +5511999990000", "num_B"]
        combo = pane.number_combo
        labels = [(combo.itemText(i), combo.itemData(i)) for i in range(1, combo.count())]
        assert labels == [("Loja Centro · +5511999990000", "num_A"), ("num_B", "num_B")]
        assert pane.table.item(0, 0).toolTip() == "Loja Centro · +5511999990000\nnum_A"
        pane.table.cellDoubleClicked.emit(0, 0)  # double-clicking a named row shows only that number
        await app.settle()
        assert pane.snapshot is not None and pane.snapshot.number == "num_A"
        assert "first seen in the last hour, Loja Centro · +5511999990000" in pane.summary.text()


async def test_delivery_tab_recomputes_only_when_visible_and_changed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pane_module, "THROTTLE_S", 0.2)
    computed: list[float] = []
    real = Reads.funnel_snapshot

    def counting(self: Reads, *args: Any) -> Any:
        computed.append(time.monotonic())
        return real(self, *args)

    monkeypatch.setattr(Reads, "funnel_snapshot", counting)  # what the tab reads through
    async with running_app(data_dir) as app:
        pane = app.pane
        await app.post(*TRAFFIC[:3])
        await asyncio.sleep(0.6)  # the Live tab is in front: nothing is read for Delivery
        assert computed == []
        app.show_delivery()
        await until(lambda: len(computed) == 1)
        await app.settle()
        assert pane.funnel_chart.lines()[2] == "Read: 1  ·  100.0%"
        await asyncio.sleep(0.6)
        assert len(computed) == 1  # visible but nothing changed: no work
        for i in range(20):  # a burst of changes: a few recomputations, not one per event
            await app.post(event("message.sent", f"burst{i}", "num_A", RECENT))
        await until(lambda: pane.funnel_chart.lines()[0] == "Sent: 21  ·  100.0%")
        assert len(computed) < 10


async def test_stuck_count_follows_the_deadlines_and_deliveries(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No periodic recount during the test: the count must follow the change descriptors.
    monkeypatch.setattr(status_bar, "STUCK_EVERY_S", 3600.0)
    async with running_app(data_dir, MessageSettings(stuck_sent_minutes=20)) as app:
        status = app.window.status
        await app.post(
            event("message.sent", "s1", "num_A", NOW - 30 * 60),  # stuck by 20 min
            event("message.sent", "s2", "num_A", NOW - 15 * 60),  # not yet (it would be by 10)
            event("message.sent", "s3", "num_A", NOW - 60 * 60),
            event("message.delivered", "s3", "num_A", NOW - 59 * 60),  # delivered: fine
            event("message.received", "in1", "num_A", NOW - 60 * 60),
        )
        await until(lambda: status.stuck_label.text() == "Stuck: 1")
        assert "#c53030" in status.stuck_label.styleSheet()
        assert "20 min" in status.stuck_label.toolTip()
        clicks: list[bool] = []
        status.stuck_clicked.connect(lambda: clicks.append(True))
        status.stuck_label.click()
        assert clicks == [True]

        await app.post(event("message.delivered", "s1", "num_A", NOW - 60))
        await until(lambda: status.stuck_label.text() == "Stuck: 0")
        assert "#c53030" not in status.stuck_label.styleSheet()

        # Deadlines… in the Delivery tab: 10 min makes s2 stuck, and it is saved.
        app.show_delivery()
        app.pane.deadlines_button.click()
        dialog = app.pane.dialog
        assert isinstance(dialog, DeadlinesDialog)
        assert (dialog.queued.value(), dialog.sent.value()) == (15, 20)
        dialog.sent.setValue(10)
        dialog.save_button.click()
        assert not dialog.isVisible()
        await until(lambda: status.stuck_label.text() == "Stuck: 1")
        assert "10 min" in status.stuck_label.toolTip()
        saved = Config.open(resolve(data_dir)).settings.value
        assert (saved.messages.stuck_queued_minutes, saved.messages.stuck_sent_minutes) == (15, 10)


async def test_deadlines_that_cannot_be_saved_are_not_applied(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(event("message.sent", "s2", "num_A", NOW - 15 * 60))
        status = app.window.status
        await until(lambda: status.stuck_label.text() == "Stuck: 1")
        settings_file = resolve(data_dir).settings_file
        settings_file.unlink()
        settings_file.mkdir()  # the save's final rename fails
        app.show_delivery()
        app.pane.deadlines_button.click()
        dialog = app.pane.dialog
        assert isinstance(dialog, DeadlinesDialog)
        assert dialog.sent.maximum() == 10_080 and dialog.sent.minimum() == 1
        dialog.sent.setValue(30)
        dialog.save_button.click()
        assert dialog.isVisible()  # still open, saying why
        assert dialog.problem.text().startswith("Could not save the settings")
        assert app.settings.messages.stuck_sent_minutes == 10  # the old deadline stays
        status.refresh_stuck()
        assert status.stuck_label.text() == "Stuck: 1"
        dialog.reject()


def test_a_bad_deadline_in_settings_json_is_refused_naming_the_field(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilot_desktop import cli  # the real entry point: it reads the settings before any window
    from pilot_desktop.cli.common import EXIT_ERROR
    from pilot_desktop.ui import app

    monkeypatch.setattr(app, "run_gui", lambda *a, **kw: 0)  # were the value accepted: no window

    settings_file = data_dir / "settings.json"
    settings_file.write_text(json.dumps({"receiver": {"port": 0}, "messages": {"stuck_sent_minutes": 0}}))
    assert cli.main(["--data-dir", str(data_dir)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "messages.stuck_sent_minutes" in err
    assert str(settings_file) in err
