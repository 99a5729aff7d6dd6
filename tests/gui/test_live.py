"""The Live pane against the real in-process receiver and store, on the qasync loop.

Async tests here run on the Qt loop (conftest). They never use qtbot.waitUntil & co
(a nested Qt loop cannot run asyncio tasks): they poll with `until`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from pilot_desktop.services.core import AppCore
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.ui import crash
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.live import pane as pane_module
from pilot_desktop.ui.panes.live.model import COLUMNS
from pilot_desktop.ui.panes.live.pane import LivePane
from pilot_desktop.ui.port_recovery import PortBanner
from tests.gui.support import close_app, memory_core, open_window, until


def message(i: int, event: str = "message.received", number: str = "num_A") -> dict[str, Any]:
    return {
        "event": event,
        "data": {
            "numberId": number,
            "messageId": f"wamid.{i}",
            "id": f"msg_{i}",
            "fromMe": event != "message.received",
            "createdAt": f"2026-11-24T10:00:{i % 60:02d}.000Z",
            "from": "+5511999990000",
            "to": "+5511988887777",
            "content": f"hello {i}",
        },
    }


class App:
    def __init__(self, core: AppCore, window: MainWindow, session: aiohttp.ClientSession) -> None:
        self.core = core
        self.runtime: Runtime = core.runtime
        self.window = window
        self.session = session

    @property
    def live(self) -> LivePane:
        assert self.window.live is not None
        return self.window.live

    async def post(self, body: dict[str, Any] | bytes) -> dict[str, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(self.runtime.hook_url, data=data) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = await resp.json()
            return result

    def cell(self, row: int, column: str) -> Any:
        model = self.live.model
        return model.data(model.index(row, COLUMNS.index(column)))


@asynccontextmanager
async def running_app(data_dir: Path, **receiver: Any) -> AsyncIterator[App]:
    core = memory_core(data_dir, Settings(receiver=ReceiverSettings(**{"port": 0, **receiver})))
    window = await open_window(core)
    window.show()
    if window.live is not None:
        await window.live.load()
    try:
        async with aiohttp.ClientSession() as session:
            yield App(core, window, session)
    finally:
        await close_app(window, core)


async def test_posted_webhook_appears_in_live_table(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        assert app.live.model.rowCount() == 0
        assert app.live.empty_hint.isVisibleTo(app.window)
        await app.post(message(1))
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "Event") == "message.received"
        assert app.cell(0, "Number") == "num_A"
        assert app.cell(0, "From") == "+5511999990000"
        assert "hello 1" in app.cell(0, "Summary")
        assert app.cell(0, "Signature") == "unsigned"
        assert not app.live.empty_hint.isVisibleTo(app.window)
        assert "1 events" in app.live.count_label.text()


async def test_redelivery_updates_the_delivery_column_not_a_new_row(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1))
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "×") == ""
        await app.post(message(1))
        await app.post(message(1))
        await until(lambda: app.cell(0, "×") == "3")
        assert app.live.model.rowCount() == 1


async def test_pause_keeps_capturing_with_badge_and_resume_shows_rows(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1))
        await until(lambda: app.live.model.rowCount() == 1)
        app.live.pause_button.click()
        assert app.live.paused
        for i in range(2, 5):
            await app.post(message(i))  # 2xx means stored, even while the view is paused
        await asyncio.sleep(0.4)  # several flush ticks pass: the view must stay frozen
        assert app.live.model.rowCount() == 1
        assert app.live.badge.isVisibleTo(app.window)
        assert app.live.badge.text() == "3 new"
        app.live.pause_button.click()
        assert not app.live.paused
        await until(lambda: app.live.model.rowCount() == 4)
        assert not app.live.badge.isVisibleTo(app.window)
        assert [app.cell(r, "Summary") for r in range(4)] == [f"hello {i}" for i in range(1, 5)]


async def test_pause_overflow_reloads_everything_from_the_store(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pane_module, "PENDING_MAX", 5)  # tiny bound so the paused buffer overflows
    async with running_app(data_dir) as app:
        app.live.set_paused(True)
        for i in range(12):
            await app.post(message(i))
        await until(lambda: app.live.badge.text() == "5+ new")
        app.live.set_paused(False)
        await until(lambda: app.live.model.rowCount() == 12)


async def test_filters_by_group_and_number(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1, "message.received", "num_A"))
        await app.post(message(2, "message.sent", "num_B"))
        await app.post({"event": "number.health_blocked", "data": {"numberId": "num_A"}})
        await until(lambda: app.live.model.rowCount() == 3)

        for key, action in app.live.group_actions.items():
            action.setChecked(key == "inbound")
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "Event") == "message.received"
        assert app.live.group_button.text() == "Inbound messages"
        # A new event outside the filter does not show; one inside does.
        await app.post(message(3, "message.sent", "num_A"))
        await app.post(message(4, "message.received", "num_B"))
        await until(lambda: app.live.model.rowCount() == 2)
        await asyncio.sleep(0.3)
        assert app.live.model.rowCount() == 2

        for action in app.live.group_actions.values():
            action.setChecked(True)
        combo = app.live.number_combo
        await until(lambda: combo.findData("num_B") >= 0)
        combo.setCurrentIndex(combo.findData("num_B"))
        await until(lambda: app.live.model.filter.number_id == "num_B" and not app.live._loading)
        assert app.live.model.rowCount() == 2
        assert {app.cell(r, "Number") for r in range(2)} == {"num_B"}


async def test_numbers_show_by_name_once_an_event_names_them(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1, "message.received", "num_A"))
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "Number") == "num_A"
        named = {"numberId": "num_A", "phone": "+5511999990000", "displayName": "Loja Centro"}
        await app.post({"event": "number.connected", "data": named})
        await until(lambda: app.live.model.rowCount() == 2)
        await until(lambda: app.cell(0, "Number") == "Loja Centro")  # the older row too
        assert app.cell(1, "Number") == "Loja Centro"
        model = app.live.model
        tip = model.data(model.index(0, COLUMNS.index("Number")), Qt.ItemDataRole.ToolTipRole)
        assert tip == "Loja Centro · +5511999990000\nnum_A"
        combo = app.live.number_combo
        assert (combo.itemText(1), combo.itemData(1)) == ("Loja Centro · +5511999990000", "num_A")


async def test_detail_shows_pretty_payload_headers_and_copies(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        body = message(7)
        await app.post(body)
        await until(lambda: app.live.model.rowCount() == 1)
        app.live.table.selectRow(0)
        detail = app.live.detail
        assert json.loads(detail.payload.toPlainText()) == body
        assert "\n  " in detail.payload.toPlainText()  # pretty-printed
        assert "content-type" in detail.headers.toPlainText().lower()
        detail.copy_json.click()
        assert json.loads(QGuiApplication.clipboard().text()) == body
        detail.copy_curl.click()
        curl = QGuiApplication.clipboard().text()
        assert curl.startswith("curl ") and app.runtime.hook_url in curl and "--data-binary" in curl


async def test_schema_issues_are_marked_and_explained(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        bad = message(1)
        bad["data"]["fromMe"] = "yes"
        await app.post(bad)
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "Event").endswith("⚠")
        app.live.table.selectRow(0)
        assert "$.data.fromMe" in app.live.detail.info.toPlainText()


async def test_live_model_passes_qtmodeltester(data_dir: Path, qtmodeltester: Any) -> None:
    async with running_app(data_dir) as app:
        for i in range(30):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 30)
        qtmodeltester.check(app.live.model, force_py=True)


async def test_history_is_paged_from_sqlite_and_oldest_is_reachable(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        app.live.model._cache_rows = 300  # smaller than the history: rows come from SQLite
        for i in range(700):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 700)
        assert len(app.live.model._cache) <= 300
        app.live.jump_to_oldest()
        assert app.cell(0, "Summary") == "hello 0"
        assert app.live.table.currentIndex().row() == 0
        assert app.cell(699, "Summary") == "hello 699"
        # A restart shows the same history, loaded from the database.
    async with running_app(data_dir) as again:
        # The restart itself is a gap (the app was not running): a band after the events.
        assert again.live.model.event_count == 700
        assert again.live.model.rowCount() == 700 + again.live.model.gap_count
        assert again.cell(0, "Summary") == "hello 0"


async def test_busy_port_keeps_history_and_says_why(data_dir: Path) -> None:
    async with running_app(data_dir) as first:
        port = first.runtime.bound[1] if first.runtime.bound else 0
        await first.post(message(1))
        async with running_app(data_dir, port=port) as second:
            (banner,) = second.window.findChildren(PortBanner)  # ui/port_recovery.py
            assert banner.isVisibleTo(second.window)
            assert "is used by another program" in banner.text.text()
            assert "Receiver stopped" in second.window.status.receiver_label.text()
            assert second.live.model.event_count == 1  # the stored history is still browsable
            # and it says this window is not receiving: an open gap's band under the history
            await until(lambda: second.live.model.gap_count == 1)
            band = second.cell(second.live.model.rowCount() - 1, "Time")
            assert "still not receiving" in band, band


async def test_corrupt_database_shows_a_clear_message_and_keeps_the_file(data_dir: Path) -> None:
    db = data_dir / "pilot-desktop.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    core = memory_core(data_dir)
    window = await open_window(core)
    try:
        assert window.live is None
        assert "damaged" in window.banner.text.text()
        assert "Receiver stopped" in window.status.receiver_label.text()
    finally:
        await close_app(window, core)
    assert db.read_bytes() == before


async def test_excepthook_shows_errors_in_the_window(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        try:
            raise ValueError("boom from a slot")
        except ValueError as exc:
            crash.excepthook(type(exc), exc, exc.__traceback__)
        assert app.window.banner.isVisibleTo(app.window)
        assert "boom from a slot" in app.window.banner.text.text()
        assert "Traceback" in app.window.banner.details.text()


@pytest.mark.parametrize("key", ["J", "K"])
async def test_keyboard_moves_selection(data_dir: Path, key: str) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    async with running_app(data_dir) as app:
        for i in range(3):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 3)
        app.live.table.selectRow(1)
        app.live.table.setFocus()
        QTest.keyClick(app.live.table, getattr(Qt.Key, f"Key_{key}"))
        expected = 2 if key == "J" else 0
        assert app.live.table.currentIndex().row() == expected


async def test_auto_scroll_follows_only_when_at_the_bottom(data_dir: Path) -> None:
    from PySide6.QtWidgets import QAbstractSlider

    async with running_app(data_dir) as app:
        bar = app.live.table.verticalScrollBar()
        for i in range(80):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 80)
        await until(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())  # followed the stream
        bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)  # the user scrolls up
        for i in range(80, 100):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 100)
        assert bar.value() == 0  # the user scrolled up: the view stays where they are
        assert app.live.badge.text() == "20 new" and app.live.state_label.text() == "↑ Not following"
        app.live.jump_to_newest()
        app.live.table.selectRow(99)  # at the bottom, reading a row: new rows wait behind the badge
        for i in range(100, 105):
            await app.post(message(i))
        await until(lambda: app.live.badge.text() == "5 new")
        assert app.live.model.rowCount() == 100
        assert app.live.state_label.text() == "Held: row selected"
        app.live.jump_to_newest()  # End: show them and follow again
        assert app.live.model.rowCount() == 105 and not app.live.badge.isVisible()
        for i in range(105, 110):
            await app.post(message(i))
        await until(lambda: app.live.model.rowCount() == 110)
        await until(lambda: bar.value() == bar.maximum())
        assert app.live.state_label.text() == "● Following"


async def test_status_bar_says_when_webhooks_are_not_stored(data_dir: Path) -> None:
    # The writer process (store/writer_process.py) dies: the operator must see it, not a
    # green "Listening" while every webhook is answered 503.
    async with running_app(data_dir) as app:
        status = app.window.status
        await app.post(message(1))
        writer = app.runtime.writer
        assert writer is not None and writer.process_id is not None
        assert status.receiver_label.text().startswith("● Listening")
        os.kill(writer.process_id, signal.SIGKILL)
        await until(lambda: "storing problem" in status.receiver_label.text(), seconds=10)
        assert "writer process stopped" in status.receiver_label.toolTip()
        await app.post(message(2))  # the replacement stores it, and the warning clears
        await until(lambda: "storing problem" not in status.receiver_label.text(), seconds=10)
        assert status.receiver_label.text().startswith("● Listening")
        assert status.receiver_label.toolTip().startswith("Webhooks go to")
        for _ in range(3):  # 4 deaths in all: more than the writer restarts within a minute
            pid = writer.process_id
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await until(lambda p=pid: writer.process_id != p or not writer.alive, seconds=10)
        await until(lambda: status.receiver_label.text() == "● Not storing", seconds=10)
        assert "answered 503" in status.receiver_label.toolTip()
        assert "stopped 4 times" in status.receiver_label.toolTip()
