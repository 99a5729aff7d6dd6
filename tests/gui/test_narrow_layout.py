"""Issue 17 (layout at every size): the status bar keeps its key segments readable in a
640 px window (short forms, lower-priority segments dropped first), a temporary message
takes the room of the counters, the Messages "All statuses" button has room for its text
and arrow, and the Contact cell shows a group post as such at the column's default width.
Real core, receiver, store and Qt loop; what is checked is the room each text is drawn in."""

from __future__ import annotations

import socket
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStyle, QWidget
from pytestqt.qtbot import QtBot

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.ui.panes.messages.filters import FilterBar
from pilot_desktop.ui.panes.messages.model import COLUMNS
from pilot_desktop.ui.panes.messages.status_picker import StatusPicker
from tests.gui.support import close_app, open_window, until
from tests.gui.test_messages_desk import received
from tests.gui.test_messages_pane import running_app


def drawn(label: QLabel) -> str:
    """The form a segment draws (ui/segments.py); a plain label draws its text()."""
    return str(getattr(label, "drawn", label.text)())


def drawn_whole(bar: QWidget, label: QLabel, text: str) -> bool:
    """`text` fits the label's drawing room, and the label lies inside the bar."""
    inside = label.isVisible() and bar.rect().contains(label.geometry())
    return inside and label.contentsRect().width() >= label.fontMetrics().horizontalAdvance(text)


async def test_the_status_bar_at_640_px_keeps_stopped_and_listening_whole(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    config = Config.memory(Settings(receiver=ReceiverSettings(port=port)))
    core = AppCore(resolve(tmp_path), config, CoreOptions(listen_retry_s=0.3), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        bar, label = window.status, window.status.receiver_label
        bar.set_demo(True)  # the demo's bar: one segment more
        window.resize(640, 420)
        window.show()
        assert "Receiver stopped" in label.text()
        await until(lambda: window.width() == 640 and bar.width() == 640)
        await until(lambda: drawn_whole(bar, label, drawn(label)), 5)  # not "● Receiv…"
        assert drawn(label) in ("● Stopped", "● Receiver stopped")
        holder.close()
        await until(lambda: "Listening" in label.text())
        bound = core.runtime.bound
        assert bound is not None
        short = f"● Listening :{bound[1]}"
        await until(
            lambda: drawn(label) in (short, label.text()) and drawn_whole(bar, label, drawn(label)), 5
        )
        # The lower-priority counters gave way first: DEMO and the stuck count stay whole.
        for kept in (bar.demo_label, bar.stuck_label):
            assert kept.isVisible() and kept.width() >= kept.sizeHint().width()
        assert not bar.db_label.isVisible()  # the first to go
    finally:
        holder.close()
        await close_app(window, core)


async def test_a_temporary_message_takes_the_counters_room(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    config = Config.memory(Settings(receiver=ReceiverSettings(port=port)))
    core = AppCore(resolve(tmp_path), config, CoreOptions(listen_retry_s=0.3), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        bar = window.status
        bar.set_demo(True)
        window.resize(1024, 700)
        window.show()
        await until(lambda: bar.width() == 1024)
        holder.close()
        await until(lambda: "Listening again" in bar.currentMessage())
        message = bar.currentMessage()

        def room() -> int:  # left of the first segment shown, where QStatusBar draws it
            shown = [
                w.geometry().x() for w in bar.findChildren(QWidget) if w.parent() is bar and w.isVisible()
            ]
            return min(shown) - 8

        await until(lambda: room() >= bar.fontMetrics().horizontalAdvance(message), 3)
        assert bar.toolTip() == message  # whole on hover, whatever the width
        assert bar.receiver_label.isVisible() and bar.demo_label.isVisible()
    finally:
        holder.close()
        await close_app(window, core)


async def test_the_status_picker_has_room_for_its_text_and_arrow(qtbot: QtBot) -> None:
    bar = FilterBar()
    bar.resize(1024, 80)
    bar.show()
    (picker,) = bar.findChildren(StatusPicker)
    await until(picker.isVisible)
    assert picker.text() == "All statuses"
    arrow = picker.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, picker)
    # Centred text clear of the arrow drawn in the right corner.
    text = picker.fontMetrics().horizontalAdvance(picker.text())
    assert (picker.width() - text) / 2 >= arrow
    bar.close()


async def test_the_contact_cell_shows_a_group_post_first(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        app.window.resize(1440, 900)
        post = received(2, 10, participantName="Maria Aparecida dos Santos Oliveira")
        post["event"] = "message.group"
        post["data"].update({"from": "+5511976543210", "groupName": "Equipe Loja Centro"})
        post["data"]["groupId"] = "120363025246125486@g.us"
        await app.post(post)
        await until(lambda: app.pane.model.rowCount() == 1)
        table = app.pane.table
        col = COLUMNS.index("Contact")
        cell = app.cell(0, "Contact")
        room = table.horizontalHeader().sectionSize(col) - 8  # the cell's margins
        shown = table.fontMetrics().elidedText(cell, Qt.TextElideMode.ElideRight, room)
        assert "group Equipe Loja Centro" in shown, shown
        assert cell.startswith("← group Equipe Loja Centro · Maria Aparecida")
