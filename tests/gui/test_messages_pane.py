"""The Messages pane and the timeline against the real receiver and store, on the Qt loop.

Real webhook bodies go through the in-process receiver into a temp data dir; what the
pane and the timeline show is read from their widgets. Times are relative to now, so
"stuck" and "read receipts may be off" hold whatever day the tests run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView

from pilot_desktop.core.lifecycle import ERROR_MEANINGS, NEEDS_REVIEW
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.store.read_models import StuckRules
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.live.model import COLUMNS as LIVE_COLUMNS
from pilot_desktop.ui.panes.messages import pane as pane_module
from pilot_desktop.ui.panes.messages.axis import positions
from pilot_desktop.ui.panes.messages.model import COLUMNS
from pilot_desktop.ui.panes.messages.pane import MessagesPane
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from pilot_desktop.ui.panes.messages.timeline_windows import LIVE
from tests.gui.support import close_app, memory_core, open_window, until

BASE = time.time() - 2 * 3600  # two hours ago: old enough to be stuck, or unread for long


def iso(offset: float) -> str:
    return (
        datetime.fromtimestamp(BASE + offset, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def outbound(event: str, i: int, at: float, number: str = "num_A", **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": number,
        "id": f"msg_{i}",
        "messageId": f"wamid.{i}",
        "correlationId": f"corr_{i}",
        "fromMe": True,
        "createdAt": iso(at),
        "to": f"+55119888{i:05d}",
        "type": "text",
        "content": f"hello {i}",
        **extra,
    }
    return {"event": event, "data": data}


def failed(i: int, at: float, code: str | None, error: str = "It did not go through") -> dict[str, Any]:
    extra: dict[str, Any] = {"error": error}
    if code is not None:
        extra["errorCode"] = code
    return outbound("message.failed", i, at, **extra)


def inbound(i: int, at: float, quoted: str | None = None, number: str = "num_A") -> dict[str, Any]:
    data: dict[str, Any] = {
        "numberId": number,
        "id": f"in_{i}",
        "messageId": f"wamid.in{i}",
        "fromMe": False,
        "createdAt": iso(at),
        "from": "+5511977776666",
        "to": "+5511900000000",
        "type": "text",
        "content": f"reply {i}",
    }
    if quoted is not None:
        data["quotedMessageId"] = quoted
    return {"event": "message.reply" if quoted else "message.received", "data": data}


class App:
    def __init__(self, runtime: Runtime, window: MainWindow, session: aiohttp.ClientSession) -> None:
        self.runtime = runtime
        self.window = window
        self.session = session

    @property
    def pane(self) -> MessagesPane:
        assert self.window.messages is not None
        return self.window.messages

    async def post(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            async with self.session.post(self.runtime.hook_url, data=json.dumps(body).encode()) as resp:
                assert resp.status == 200, await resp.text()

    def cell(self, row: int, column: str) -> Any:
        model = self.pane.model
        return model.data(model.index(row, COLUMNS.index(column)))

    def column(self, column: str) -> list[Any]:
        return [self.cell(r, column) for r in range(self.pane.model.rowCount())]

    def texts(self) -> list[str]:
        return self.column("Text")

    async def settled(self) -> None:
        """The load in flight (if any) is done and the buffered changes are applied."""
        await until(lambda: self.pane._loaded_once and not self.pane.loading and not self.pane.model.fetching)
        await asyncio.sleep(pane_module.FLUSH_MS / 1000 * 2)
        await until(lambda: not self.pane.loading)

    async def choose(self, combo_name: str, data: Any) -> None:
        if combo_name == "status_picker":
            self.pane.filters.status_picker.choose(data)  # a status, a set of them, "stuck" or None
        else:
            combo = getattr(self.pane.filters, combo_name)
            combo.setCurrentIndex(combo.findData(data))
        await self.settled()

    def timeline(self) -> TimelineDialog:
        assert self.pane.timeline is not None
        return self.pane.timeline


@asynccontextmanager
async def running_app(data_dir: Path) -> AsyncIterator[App]:
    core = memory_core(data_dir)
    window = await open_window(core)
    window.resize(1300, 800)
    window.show()
    assert window.messages is not None
    window.tabs.setCurrentWidget(window.messages)  # a hidden pane does no work
    try:
        async with aiohttp.ClientSession() as session:
            app = App(core.runtime, window, session)
            await app.settled()
            yield app
    finally:
        await close_app(window, core)


def double_click(table: QTableView, row: int) -> None:
    table.scrollTo(table.model().index(row, 0))
    at = table.visualRect(table.model().index(row, 1)).center()
    # What a real double-click delivers: a click, then the second press as a double-click
    # (Qt 6's QTest.mouseDClick alone has no first press, so no view reacts to it).
    for act in (QTest.mouseClick, QTest.mouseDClick):
        act(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)


async def test_lists_messages_with_status_latencies_and_replies(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        assert app.pane.empty_hint.isVisibleTo(app.window)
        assert "No messages yet" in app.pane.empty_hint.text()
        await app.post(
            outbound("message.sent", 1, 0),
            outbound("message.delivered", 1, 2.1),
            outbound("message.read", 1, 182.1),
            inbound(1, 200, quoted="wamid.1"),
            outbound("message.sent", 2, 300, number="num_B"),
            failed(3, 400, "DELIVERED_NOT_CONFIRMED"),
        )
        await until(lambda: app.pane.model.rowCount() == 4)
        # Newest first: failed 3, sent 2, the reply, read 1.
        assert app.texts() == ["hello 3", "hello 2", "reply 1", "hello 1"]
        assert app.column("Status") == ["✕ Failed", "✓ Sent", "↙ Received", "✓✓ Read"]
        assert app.cell(3, "Sent→Delivered") == "2.1 s"
        assert app.cell(3, "Delivered→Read") == "3 min"
        assert app.cell(3, "Replies") == "1"
        assert app.cell(3, "Contact") == "→ +5511988800001"
        assert app.cell(2, "Contact") == "← +5511977776666"
        assert "reply" in app.cell(2, "Notes")
        assert app.cell(1, "Number") == "num_B"
        assert app.cell(0, "Error") == "DELIVERED_NOT_CONFIRMED"
        assert app.cell(0, "Sent→Delivered") == ""
        assert app.pane.count_label.text() == "4 messages"
        assert not app.pane.empty_hint.isVisibleTo(app.window)


async def test_numbers_show_by_name_once_known(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0), outbound("message.sent", 2, 10, number="num_B"))
        await until(lambda: app.pane.model.rowCount() == 2)
        assert app.column("Number") == ["num_B", "num_A"]  # no name known yet
        combo = app.pane.filters.number_combo
        # num_A's name arrives with a number event: the table and the filter follow.
        connected = {
            "event": "number.connected",
            "data": {"numberId": "num_A", "phone": "+5511999990000", "displayName": "Loja Centro"},
        }
        await app.post(connected)
        await until(lambda: app.cell(1, "Number") == "Loja Centro")
        assert app.cell(0, "Number") == "num_B"
        model = app.pane.model
        tip = model.data(model.index(1, COLUMNS.index("Number")), Qt.ItemDataRole.ToolTipRole)
        assert tip == "Loja Centro · +5511999990000\nnum_A"
        items = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
        assert items == [("All numbers", None), ("Loja Centro · +5511999990000", "num_A"), ("num_B", "num_B")]
        await app.choose("number_combo", "num_A")  # the filter still goes by id
        assert app.texts() == ["hello 1"]
        assert combo.currentText() == "Loja Centro · +5511999990000"
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])
        assert "Number <b>Loja Centro · +5511999990000 (num_A)</b>" in dialog.info.text()


async def test_status_and_stuck_filters_show_exactly_the_expected_rows(data_dir: Path) -> None:
    now = time.time() - BASE
    async with running_app(data_dir) as app:
        await app.post(
            outbound("message.sent", 1, 0),  # sent two hours ago, never delivered: stuck
            outbound("message.sent", 2, now - 60),  # sent a minute ago: not stuck yet
            outbound("message.sent", 3, 0),
            outbound("message.delivered", 3, 5),
            failed(4, 10, "WHATSAPP_NOT_EXIST"),
            inbound(5, 20),
            outbound("message.sent", 6, 0, number="num_B"),  # stuck too, on another number
        )
        await until(lambda: app.pane.model.rowCount() == 6)
        assert "stuck" in app.cell(app.texts().index("hello 1"), "Notes")
        assert "stuck" not in app.cell(app.texts().index("hello 2"), "Notes")

        await app.choose("status_picker", "SENT")
        assert sorted(app.texts()) == ["hello 1", "hello 2", "hello 6"]
        assert app.pane.count_label.text() == "3 matching messages"
        await app.choose("status_picker", "stuck")
        assert sorted(app.texts()) == ["hello 1", "hello 6"]
        await app.choose("number_combo", "num_A")
        assert app.texts() == ["hello 1"]
        await app.choose("number_combo", None)
        await app.choose("status_picker", "FAILED")
        assert app.texts() == ["hello 4"]
        await app.choose("status_picker", "RECEIVED")
        assert app.texts() == ["reply 5"]
        await app.choose("status_picker", "DELIVERED")
        assert app.texts() == ["hello 3"]
        await app.choose("range_combo", 3600)  # all of these began two hours ago
        assert app.texts() == []
        assert "No messages match" in app.pane.empty_hint.text()
        await app.choose("status_picker", None)
        assert app.texts() == ["hello 2"]


async def test_nothing_stuck_says_so_with_the_deadlines(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, time.time() - BASE - 5))
        await until(lambda: app.pane.model.rowCount() == 1)
        await app.choose("status_picker", "stuck")
        assert app.pane.model.rowCount() == 0
        assert "Nothing is stuck" in app.pane.empty_hint.text()
        assert "10 min" in app.pane.empty_hint.text()
        # Deadlines come from a callable (the settings): a shorter one re-reads the list.
        app.pane.set_stuck_rules(lambda: StuckRules(queued_after=60, sent_after=1))
        await app.settled()
        assert app.texts() == ["hello 1"]
        assert "stuck" in app.cell(0, "Notes")


async def test_search_by_any_id_or_phone_then_back_to_the_list(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(*(outbound("message.sent", i, i) for i in range(1, 6)), inbound(9, 50))
        await until(lambda: app.pane.model.rowCount() == 6)
        box = app.pane.search_box
        for query in ("msg_3", "corr_3", "wamid.3", "+55 11 9888-00003", "5511988800003"):
            box.setText(query)
            QTest.keyClick(box, Qt.Key.Key_Return)
            assert app.texts() == ["hello 3"], query
            assert app.pane.count_label.text() == "1 found (filters not applied)"
        app.pane.filters.open_button.click()  # the found message is selected: open it
        assert app.timeline().ids.fields["msg_id"].text() == "msg_3"
        box.setText("+55 (11) 97777-6666")  # the inbound contact, another format
        QTest.keyClick(box, Qt.Key.Key_Return)
        assert app.texts() == ["reply 9"]
        box.setText("nothing_like_this")
        QTest.keyClick(box, Qt.Key.Key_Return)
        assert app.texts() == []
        assert "No message matches" in app.pane.empty_hint.text()
        box.clear()  # back to the filtered list
        await app.settled()
        assert app.pane.model.rowCount() == 6
        assert app.pane.search_text is None


async def test_scrolling_to_the_bottom_loads_the_next_page(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        for i in range(450):
            await app.post(outbound("message.sent", i, i))
        await until(lambda: app.pane.model.rowCount() >= 200)
        app.pane._start_load()  # a fresh first page: exactly one page, newest first
        await app.settled()
        assert app.pane.model.rowCount() == 200
        assert app.cell(0, "Text") == "hello 449"
        assert app.pane.count_label.text() == "450 messages"
        bar = app.pane.table.verticalScrollBar()
        bar.setValue(bar.maximum())
        await until(lambda: app.pane.model.rowCount() == 400)
        await app.settled()
        bar.setValue(bar.maximum())
        await until(lambda: app.pane.model.rowCount() == 450)
        assert app.cell(449, "Text") == "hello 0"
        assert not app.pane.model.more
        assert app.texts() == [f"hello {i}" for i in range(449, -1, -1)]  # no gap, no repeat


async def test_new_events_update_rows_and_prepend_new_messages_live(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0))
        await until(lambda: app.pane.model.rowCount() == 1)
        assert app.cell(0, "Status") == "✓ Sent"
        await app.post(outbound("message.delivered", 1, 3))
        await until(lambda: app.cell(0, "Status") == "✓✓ Delivered")
        assert app.cell(0, "Sent→Delivered") == "3.0 s"
        await app.post(outbound("message.sent", 2, 10))
        await until(lambda: app.pane.model.rowCount() == 2)
        assert app.texts() == ["hello 2", "hello 1"]
        assert app.pane.count_label.text() == "2 messages"
        # A reply names only itself; its original's reply count still moves.
        await app.post(inbound(1, 20, quoted="wamid.1"))
        await until(lambda: app.pane.model.rowCount() == 3)
        await until(lambda: app.cell(2, "Replies") == "1")
        # A retry of a step shows as a duplicate on its message.
        await app.post(outbound("message.delivered", 1, 3), outbound("message.delivered", 1, 3))
        await until(lambda: "2 dup" in app.cell(2, "Notes"))


async def test_a_message_leaving_the_filter_stays_greyed_and_leaves_the_count(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0), outbound("message.sent", 2, 1))
        await until(lambda: app.pane.model.rowCount() == 2)
        await app.choose("status_picker", "SENT")
        assert app.pane.count_label.text() == "2 matching messages"
        await app.post(outbound("message.delivered", 1, 5))
        await until(lambda: app.cell(1, "Status") == "✓✓ Delivered")
        assert app.pane.count_label.text() == "1 matching message"
        assert app.pane.model.data(app.pane.model.index(1, 1), Qt.ItemDataRole.ForegroundRole) is not None
        await app.post(outbound("message.sent", 3, 9), outbound("message.delivered", 9, 9))
        await until(lambda: app.pane.model.rowCount() == 3)  # the new SENT one only
        assert app.texts() == ["hello 3", "hello 2", "hello 1"]


async def test_an_older_message_that_starts_matching_appears_at_its_place(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(failed(1, 0, "X"), outbound("message.sent", 2, 5), failed(3, 6, "X"))
        await until(lambda: app.pane.model.rowCount() == 3)
        await app.choose("status_picker", "FAILED")
        assert app.texts() == ["hello 3", "hello 1"]
        await app.post(failed(2, 60, "WHATSAPP_NOT_EXIST"))  # the middle one fails now
        await until(lambda: app.pane.model.rowCount() == 3)
        assert app.texts() == ["hello 3", "hello 2", "hello 1"]
        assert app.pane.count_label.text() == "3 matching messages"


async def test_new_messages_wait_behind_a_button_when_scrolled_down(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        for i in range(60):
            await app.post(outbound("message.sent", i, i))
        await until(lambda: app.pane.model.rowCount() == 60)
        app.pane.table.scrollToBottom()
        await app.post(outbound("message.sent", 100, 100))
        await until(lambda: app.pane.new_button.isVisibleTo(app.window))
        assert app.pane.new_button.text() == "↑ 1 new"
        assert app.pane.model.rowCount() == 60  # the rows under the reader did not move
        app.pane.new_button.click()
        await app.settled()
        assert app.cell(0, "Text") == "hello 100"
        assert not app.pane.new_button.isVisibleTo(app.window)


async def test_timeline_orders_steps_marks_late_duplicates_and_pending_read(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        # Delivered arrives first (and twice more as retries); sent arrives late.
        delivered = outbound("message.delivered", 1, 4.5)
        await app.post(delivered, outbound("message.sent", 1, 0), delivered, delivered)
        await until(lambda: app.pane.model.rowCount() == 1)
        double_click(app.pane.table, 0)
        dialog = app.timeline()
        assert dialog.isVisible() and not dialog.isModal()
        assert [p.label for p in dialog.axis.points] == ["Sent", "Delivered", "Read"]
        assert [p.late for p in dialog.axis.points] == [True, False, False]
        assert [p.deliveries for p in dialog.axis.points[:2]] == [1, 3]
        assert dialog.axis.points[2].pending and dialog.axis.points[2].note == "pending"
        assert dialog.axis.points[0].at is not None and dialog.axis.points[1].at is not None
        assert dialog.axis.points[1].at - dialog.axis.points[0].at == 4.5
        steps = [dialog.steps.item(r, 0).text() for r in range(dialog.steps.rowCount())]
        assert steps == ["Sent", "Delivered", "Read"]
        assert "late" in dialog.steps.item(0, 5).text()
        assert dialog.steps.item(1, 4).text() == "×3"
        assert dialog.steps.item(2, 1).text() == "pending"
        assert dialog.steps.item(2, 5).text() == "read receipts may be off"
        assert "read receipts may be off" in dialog.hints.text()
        assert dialog.hints.isVisibleTo(dialog)
        assert not dialog.failure.isVisibleTo(dialog)
        assert dialog.ids.fields["msg_id"].text() == "msg_1"
        assert dialog.ids.fields["correlation_id"].text() == "corr_1"
        assert dialog.ids.fields["provider_id"].text() == "wamid.1"
        assert iso(0) in dialog.steps.item(0, 1).toolTip()  # the event time as sent
        # Selecting a step shows its raw payload, pretty-printed.
        dialog.steps.selectRow(0)
        payload = dialog.payload.toPlainText()
        assert json.loads(payload.split("\n", 1)[1])["event"] == "message.sent"
        dialog.axis.step_did_select.emit(1)
        assert '"message.delivered"' in dialog.payload.toPlainText()
        # It re-reads when its message changes.
        await app.post(outbound("message.read", 1, 9000))
        await until(lambda: [p.label for p in dialog.axis.points] == ["Sent", "Delivered", "Read"]
                    and not dialog.axis.points[2].pending)  # fmt: skip
        assert "read receipts" not in dialog.hints.text()


async def test_timeline_explains_failures_in_layers(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(
            outbound("message.sent", 1, 0),
            failed(1, 600, "DELIVERED_NOT_CONFIRMED", "Delivery not confirmed before deliverUntil"),
            outbound("message.sent", 2, 0),
            failed(2, 60, "SOMETHING_NEW_42", "Provider said no"),
        )
        await until(lambda: app.pane.model.rowCount() == 2)
        dialog = app.pane.open_timeline(app.pane.model.ids()[1])  # message 1
        box = dialog.failure
        assert box.isVisibleTo(dialog)
        assert "Failed" in box.status.text()
        assert box.reason.text() == "Delivery not confirmed before deliverUntil"
        assert box.code.text() == "DELIVERED_NOT_CONFIRMED"
        assert "needs review" not in box.code.text()
        assert box.meaning.text() == ERROR_MEANINGS["DELIVERED_NOT_CONFIRMED"]
        assert dialog.axis.points[-1].label == "Failed"
        assert not any(p.pending for p in dialog.axis.points)  # failed is final
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])  # message 2, unknown code
        assert "SOMETHING_NEW_42" in box.code.text() and "needs review" in box.code.text()
        assert NEEDS_REVIEW in box.meaning.text()
        assert box.reason.text() == "Provider said no"
        assert dialog.back.isEnabled()
        dialog.back.click()
        assert box.code.text() == "DELIVERED_NOT_CONFIRMED"


async def test_reply_is_linked_both_ways_even_before_the_original_is_sent(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(inbound(7, 30, quoted="wamid.9"))  # the reply comes first
        await until(lambda: app.pane.model.rowCount() == 1)
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])
        assert "In reply to" in dialog.reply_thread.title.text()
        assert "not in the stored history" in dialog.reply_thread.body.text()
        await app.post(outbound("message.sent", 9, 0))  # now the original's message.sent
        await until(lambda: "msg:" in dialog.reply_thread.body.text())  # the open timeline re-read
        await until(lambda: app.pane.model.rowCount() == 2)
        original = app.pane.model.ids()[0]
        assert f"href='msg:{original}'" in dialog.reply_thread.body.text()
        assert "hello 9" in dialog.reply_thread.body.text()
        # Follow the link to the original: its thread lists the reply, with time and text.
        dialog.reply_thread.body.linkActivated.emit(f"msg:{original}")
        assert dialog.message_id == original
        assert dialog.reply_thread.title.text() == "<b>Replies (1)</b>"
        reply = app.pane.model.ids()[1]
        body = dialog.reply_thread.body.text()
        assert "reply 7" in body and f"href='msg:{reply}'" in body
        assert app.cell(0, "Replies") == "1"
        dialog.back.click()
        assert dialog.message_id == reply


async def test_double_click_in_live_opens_the_timeline_of_message_events(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(
            outbound("message.sent", 1, 0),
            {"event": "number.connected", "data": {"numberId": "num_A"}},
            {"event": "message.sent", "data": {"numberId": "num_A", "createdAt": iso(1)}},  # no ids
        )
        live = app.window.live
        assert live is not None
        app.window.tabs.setCurrentWidget(live)
        await until(lambda: live.model.rowCount() == 3)
        events = [live.model.data(live.model.index(r, LIVE_COLUMNS.index("Event"))) for r in range(3)]
        assert events[0] == "message.sent" and events[1].startswith("number.connected")

        double_click(live.table, 1)  # not a message event: nothing opens, nothing to say
        assert app.pane.timelines.get(LIVE) is None
        assert app.window.status.currentMessage() == ""
        double_click(live.table, 2)  # a message event without ids: a note says why
        assert app.pane.timelines.get(LIVE) is None
        assert "not tied to a message" in app.window.status.currentMessage()
        double_click(live.table, 0)
        dialog = app.pane.timelines.get(LIVE)  # Live's own window (its own Back history)
        assert dialog is not None and dialog.isVisible() and app.pane.timeline is None
        assert dialog.ids.fields["msg_id"].text() == "msg_1"
        # The detail's button does the same for the selected event.
        dialog.close()
        live.table.selectRow(0)
        assert live.detail.timeline_button.isEnabled()
        live.detail.timeline_button.click()
        assert dialog.isVisible()
        live.table.selectRow(1)
        assert not live.detail.timeline_button.isEnabled()


async def test_status_bar_stuck_count_opens_the_stuck_list(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0), outbound("message.sent", 2, time.time() - BASE))
        await until(lambda: app.pane.model.rowCount() == 2)
        app.window.tabs.setCurrentIndex(0)
        app.window.status.stuck_clicked.emit()
        assert app.window.tabs.currentWidget() is app.pane
        await app.settled()
        assert app.pane.filters.status_picker.stuck()
        assert app.texts() == ["hello 1"]


async def test_messages_model_passes_qtmodeltester(data_dir: Path, qtmodeltester: Any) -> None:
    async with running_app(data_dir) as app:
        await app.post(*(outbound("message.sent", i, i) for i in range(20)), failed(3, 50, "X"))
        await until(lambda: app.pane.model.rowCount() == 20)
        qtmodeltester.check(app.pane.model, force_py=True)


def test_axis_positions_keep_order_and_room_for_labels() -> None:
    xs = positions([0.0, 2.0, 10_800.0, None], 70, 870, min_gap=120)
    assert xs[0] == 70 and abs(xs[-1] - 870) < 1e-6
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    assert all(g >= 120 - 1e-6 for g in gaps)
    assert gaps[1] > gaps[0]  # three hours reads longer than two seconds
    assert positions([5.0], 10, 100) == [10]
    narrow = positions([0.0, 1.0, 2.0], 0, 100, min_gap=120)
    assert narrow == sorted(narrow) and narrow[-1] <= 100 + 1e-6
