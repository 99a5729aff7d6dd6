"""Issue 17 in the Messages pane, against the real receiver, store and Qt loop: rows never
move under the reader, contact names, group and channel posts, sorting, dates, the
multi-status filter, schema issues, Back per window, the search box's reading of numbers
and the bar's layout at three window sizes."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from pilot_desktop.ui.panes.messages.model import COLUMNS
from tests.gui.support import until
from tests.gui.test_messages_pane import App, inbound, outbound, running_app


def submit(app: App, text: str) -> None:
    box = app.pane.search_box
    box.setText(text)
    QTest.keyClick(box, Qt.Key.Key_Return)


def tip(app: App, row: int, column: str) -> Any:
    model = app.pane.model
    return model.data(model.index(row, COLUMNS.index(column)), Qt.ItemDataRole.ToolTipRole)


async def test_a_selected_row_or_one_under_the_pointer_never_moves(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(*(outbound("message.sent", i, i) for i in range(1, 6)))
        await until(lambda: app.pane.model.rowCount() == 5)
        table = app.pane.table
        assert table.verticalScrollBar().value() == 0  # at the top: the live position
        rect = table.visualRect(app.pane.model.index(2, 1))
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert app.pane.selected_id() == app.pane.model.ids()[2]
        chosen = app.pane.selected_id()
        await app.post(outbound("message.sent", 6, 6))
        await until(lambda: app.pane.new_button.isVisibleTo(app.window))
        await app.settled()
        assert app.pane.new_button.text() == "↑ 1 new"
        assert app.pane.model.rowCount() == 5
        assert app.pane.model.ids()[2] == chosen and app.pane.selected_id() == chosen  # not moved
        # Nothing selected, but the pointer over the rows: still nothing moves.
        QTest.mouseMove(table.viewport(), QPoint(20, 20))
        table.clearSelection()
        await app.post(outbound("message.sent", 7, 7))
        await until(lambda: app.pane.new_button.text() == "↑ 2 new")
        await app.settled()
        assert app.pane.model.rowCount() == 5
        # The pointer leaves: the waiting rows come in at the top.
        QCursor.setPos(5000, 5000)  # off every window (the next tests' windows too)
        QApplication.sendEvent(table.viewport(), _leave())
        await until(lambda: app.pane.model.rowCount() == 7)
        assert app.texts()[:2] == ["hello 7", "hello 6"]
        assert not app.pane.new_button.isVisibleTo(app.window)
        # Nobody on the list: new rows join at once.
        await app.post(outbound("message.sent", 8, 8))
        await until(lambda: app.pane.model.rowCount() == 8)
        assert app.texts()[0] == "hello 8"


def _leave() -> Any:
    from PySide6.QtCore import QEvent

    return QEvent(QEvent.Type.Leave)


def received(i: int, at: float, **extra: Any) -> dict[str, Any]:
    body = inbound(i, at)
    body["data"].update(extra)
    return body


async def test_contact_names_and_group_and_channel_posts(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        mariana = received(1, 0, participantName="Mariana Costa")
        group = received(2, 10, participantName="Carlos Almeida", groupId="120363025246125486@g.us")
        group["event"] = "message.group"
        group["data"].update({"from": "+5511976543210", "groupName": "Equipe Loja Centro"})
        channel = received(3, 20, participantName=None, newsletterId="120363198765432101@newsletter")
        channel["event"] = "message.newsletter"
        channel["data"].update({"from": "+5511955554444", "newsletterName": "Moda Sul Atacado"})
        to_group = outbound("message.sent", 4, 30, to="120363025246125486@g.us")
        to_mariana = outbound("message.sent", 5, 40, to="+5511977776666")  # the phone Mariana wrote from
        await app.post(mariana, group, channel, to_group, to_mariana)
        await until(lambda: app.pane.model.rowCount() == 5)
        app.pane._start_load()  # a fresh page also learns the names of the contacts written to
        await app.settled()
        contacts = dict(zip(app.texts(), app.column("Contact"), strict=True))
        assert contacts["reply 1"] == "← Mariana Costa · +5511977776666"
        # Where it was posted first: a long name, elided at the end, never hides it.
        assert contacts["reply 2"] == "← group Equipe Loja Centro · Carlos Almeida · +5511976543210"
        assert contacts["reply 3"] == "← channel Moda Sul Atacado · +5511955554444"
        assert contacts["hello 4"] == "→ group 120363025246125486@g.us"
        assert contacts["hello 5"] == "→ Mariana Costa · +5511977776666"
        row = app.texts().index("reply 2")
        assert "Posted in a group: Equipe Loja Centro" in tip(app, row, "Contact")
        dialog = app.pane.open_timeline(app.pane.model.ids()[row])
        assert "group Equipe Loja Centro" in dialog.title.text()


async def test_schema_issues_are_flagged_on_the_row_and_the_timeline(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        bad = outbound("message.sent", 1, 0, to=12345)
        del bad["data"]["type"]
        await app.post(bad)
        await until(lambda: app.pane.model.rowCount() == 1)
        assert app.cell(0, "Contact") == "→ ⚠ invalid “to”"
        assert "(unknown)" not in app.cell(0, "Contact")
        assert "$.data.to: Input should be a valid string" in tip(app, 0, "Contact")
        assert "⚠ schema" in app.cell(0, "Notes")
        assert "$.data.to: Input should be a valid string" in tip(app, 0, "Notes")
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])
        assert "to ⚠ invalid “to”" in dialog.title.text()
        assert "Type <b>?</b>" not in dialog.info.text()
        assert "did not match the schema" in dialog.hints.text()
        assert "$.data.to" in dialog.hints.text()


async def test_columns_sort_the_loaded_rows_and_hold_new_ones(data_dir: Path, qtmodeltester: Any) -> None:
    async with running_app(data_dir) as app:
        await app.post(
            outbound("message.sent", 1, 0, content="b"),
            outbound("message.sent", 2, 1, content="c"),
            outbound("message.sent", 3, 2, content="a"),
            outbound("message.delivered", 2, 3),
        )
        await until(lambda: app.pane.model.rowCount() == 3)
        header = app.pane.table.horizontalHeader()
        header.setSortIndicator(COLUMNS.index("Text"), Qt.SortOrder.AscendingOrder)
        assert app.texts() == ["a", "b", "c"]
        header.setSortIndicator(COLUMNS.index("Text"), Qt.SortOrder.DescendingOrder)
        assert app.texts() == ["c", "b", "a"]
        header.setSortIndicator(COLUMNS.index("Status"), Qt.SortOrder.DescendingOrder)
        assert app.column("Status")[0] == "✓✓ Delivered"
        qtmodeltester.check(app.pane.model, force_py=True)
        # Sorted by another column: a new message waits behind the badge, nothing moves.
        before = app.texts()
        await app.post(outbound("message.sent", 4, 4, content="d"))
        await until(lambda: app.pane.new_button.isVisibleTo(app.window))
        assert app.texts() == before
        # A status change redraws its row where it is.
        await app.post(outbound("message.delivered", 1, 5))
        await until(lambda: app.cell(before.index("b"), "Status") == "✓✓ Delivered")
        assert app.texts() == before
        app.pane.new_button.click()  # the live order again, with the new one on top
        await app.settled()
        assert app.texts() == ["d", "a", "c", "b"]
        assert header.sortIndicatorSection() == COLUMNS.index("Created")


async def test_created_shows_dates_when_the_rows_span_days(data_dir: Path) -> None:
    today = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)

    def at(dt: datetime) -> str:
        return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0, createdAt=at(today)))
        await until(lambda: app.pane.model.rowCount() == 1)
        assert app.cell(0, "Created") == "12:00:00"  # all today: the time says it all
        await app.post(outbound("message.sent", 2, 0, createdAt=at(yesterday)))
        await until(lambda: app.pane.model.rowCount() == 2)
        month = today.strftime("%b")
        assert app.column("Created") == [
            f"{yesterday.day} {yesterday.strftime('%b')} 12:00:00",
            f"{today.day} {month} 12:00:00",
        ]


async def test_status_filter_takes_several_statuses_including_queued_and_canceled(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(
            outbound("message.sent", 1, 0),
            outbound("message.sent", 2, 1),
            outbound("message.delivered", 2, 2),
            outbound("message.failed", 3, 3, error="no", errorCode="X"),
        )
        await until(lambda: app.pane.model.rowCount() == 3)
        # Queued and canceled rows come from the catch-up (reconstructed from the API).
        with sqlite3.connect(data_dir / "pilot-desktop.sqlite3") as conn:
            for i, status in ((10, "QUEUED"), (11, "CANCELED")):
                conn.execute(
                    "INSERT INTO messages (outbound, status, status_at, msg_id, number_id, peer, text, "
                    "first_at, first_received_at, steps, late) "
                    "VALUES (1, ?, ?, ?, 'num_A', '+5511', ?, ?, ?, 0, 0)",
                    (status, time.time(), f"msg_{i}", f"hello {i}", time.time(), time.time()),
                )
        picker = app.pane.filters.status_picker
        labels = [a.text() for a in picker.menu().actions() if a.isCheckable()]
        assert "◷ Queued" in labels and "⊘ Canceled" in labels
        picker.actions_by_status["SENT"].trigger()
        picker.actions_by_status["FAILED"].trigger()
        await app.settled()
        assert sorted(app.texts()) == ["hello 1", "hello 3"]
        assert picker.text() == "✓ Sent, ✕ Failed"
        await app.choose("status_picker", frozenset({"QUEUED", "CANCELED"}))
        assert sorted(app.texts()) == ["hello 10", "hello 11"]
        assert app.pane.count_label.text() == "2 matching messages"
        picker.stuck_action.trigger()  # "stuck only" excludes the statuses
        await app.settled()
        assert picker.statuses() == frozenset()
        picker.all_action.trigger()
        await app.settled()
        assert app.pane.model.rowCount() == 5


async def test_each_timeline_window_has_its_own_back_history(data_dir: Path) -> None:
    from pilot_desktop.ui.panes.messages.timeline_windows import LIVE

    async with running_app(data_dir) as app:
        await app.post(*(outbound("message.sent", i, i) for i in range(1, 4)))
        await until(lambda: app.pane.model.rowCount() == 3)
        a, b, c = app.pane.model.ids()
        rows = app.pane.open_timeline(a)
        app.pane.open_timeline(b)
        live = app.pane.open_timeline(c, LIVE)  # the Live pane's double-click
        assert live is not rows
        assert not live.back.isEnabled()  # nothing behind it in its own window
        assert rows.message_id == b and rows.back.isEnabled()
        rows.back.click()
        assert rows.message_id == a


async def test_search_reads_bare_numbers_as_phones_or_ids_never_as_event_numbers(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(
            {
                "event": "number.connected",
                "data": {"numberId": "num_A", "phone": "+5511999990000", "displayName": "Loja"},
            },
            *(outbound("message.sent", i, i) for i in range(1, 4)),
        )
        await until(lambda: app.pane.model.rowCount() == 3)
        await until(lambda: "Loja" in app.column("Number"))  # the number's phone is known
        submit(app, "2")  # event #2 exists, but a bare number is no event number
        assert app.texts() == []
        assert "write “#2” for event 2" in app.pane.empty_hint.text()
        submit(app, "#2")
        assert len(app.texts()) == 1
        submit(app, "(11) 98880-0003")  # national, read in the country of the numbers
        assert app.texts() == ["hello 3"]


def test_the_count_never_covers_the_search_box(qapp: Any) -> None:
    from pilot_desktop.ui.panes.messages.filters import FilterBar

    bar = FilterBar()
    bar.count_label.setText("100,000+ matching messages")
    bar.show_new(12_345)
    # 640 px of window, less the pane's margins: the bar fits, so nothing overlaps.
    assert bar.minimumSizeHint().width() <= 640 - 12
    for width in (628, 1012, 1428):
        bar.resize(width, bar.sizeHint().height())
        bar.show()
        QApplication.processEvents()
        box, count = bar.search_box.geometry(), bar.count_label.geometry()
        assert not box.intersects(count), (width, box, count)
        assert count.right() < width and bar.open_button.geometry().right() < width, width
        assert box.width() >= 150, (width, box)
        assert count.width() > 0
    bar.close()
