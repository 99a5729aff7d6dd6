"""Live holds new rows only while a ROW is under the pointer, and its badge and empty state
say only what is true (issue 17, points 1 and 2), on the real receiver, store and window.

The empty list, or the space below the last row, under the pointer holds nothing; the
pointer moving inside the list (no Enter or Leave) re-decides. The "N new" badge counts
only rows that really wait, so it never shows while following and not held; the empty
state never says "waiting for the first webhook" while rows wait behind the badge."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPoint
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest

from pilot_desktop.ui.panes.live.model import COLUMNS
from tests.gui.support import until
from tests.gui.test_live import App, message, running_app
from tests.gui.test_live_follow import feed
from tests.gui.test_numbers_pane import number_event


def pointer_away(app: App) -> None:
    """The pointer on the Pause button (a cursor left over the list by another test would
    hold rows in the code before this fix)."""
    QTest.mouseMove(app.live.pause_button)


class Shown(QObject):
    """Counts the times a widget is shown (a flash between two ticks counts too)."""

    def __init__(self) -> None:
        super().__init__()
        self.times = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.times += 1
        return False


async def test_an_empty_list_under_the_pointer_holds_nothing(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live, viewport = app.live, app.live.table.viewport()
        app.window.resize(1024, 700)
        app.window.show()
        await until(lambda: viewport.height() > 200)  # laid out: 5 rows cannot reach its bottom
        QTest.mouseMove(viewport, QPoint(viewport.width() // 2, viewport.height() - 10))
        await until(viewport.underMouse)
        n = await feed(app, 0, 5)
        await until(lambda: live.model.rowCount() == n, seconds=5)
        assert not live.badge.isVisible() and live.state_label.text() == "● Following"


async def test_only_a_row_under_the_pointer_holds_and_moving_the_pointer_decides(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live, table, viewport = app.live, app.live.table, app.live.table.viewport()
        app.window.resize(1024, 700)
        pointer_away(app)
        n = await feed(app, 0, 3)
        await until(lambda: live.model.rowCount() == n)
        below = QPoint(40, viewport.height() - 10)  # the space below the last row
        QTest.mouseMove(viewport, below)
        await until(viewport.underMouse)
        n = await feed(app, n, 3)
        await until(lambda: live.model.rowCount() == n, seconds=5)
        assert not live.badge.isVisible() and live.state_label.text() == "● Following"
        # Onto a row, inside the list (no Enter, no Leave): held.
        on_row = QPoint(40, table.rowViewportPosition(1) + 5)
        QTest.mouseMove(viewport, on_row)
        await until(lambda: live.state_label.text() == "Held: pointer on a row")
        n = await feed(app, n, 2)
        await until(lambda: live.badge.text() == "2 new")
        assert live.model.rowCount() == n - 2
        # Back below the rows, still inside the list: what waited goes in.
        QTest.mouseMove(viewport, below)
        await until(lambda: live.model.rowCount() == n, seconds=5)
        assert not live.badge.isVisible() and live.state_label.text() == "● Following"


async def test_paused_empty_list_never_says_waiting_for_the_first_webhook(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live = app.live
        assert "Waiting for the first webhook" in live.empty_hint.text()
        pointer_away(app)
        live.pause_button.click()
        await feed(app, 0, 3)
        await until(lambda: live.badge.text() == "3 new")
        await until(lambda: "Waiting for the first webhook" not in live.empty_hint.text(), seconds=3)
        assert "3 new" in live.empty_hint.text() or not live.empty_hint.isVisible()
        live.badge.click()
        assert live.model.rowCount() == 3 and not live.empty_hint.isVisible()


async def test_the_badge_never_shows_while_following_and_not_held(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live = app.live
        shown = Shown()
        live.badge.installEventFilter(shown)
        pointer_away(app)
        n = 0
        for size in ((1024, 700), (640, 420), (1440, 900)):
            app.window.resize(*size)
            for _ in range(10):
                n = await feed(app, n, 1)
        await until(lambda: live.model.rowCount() == n)
        assert shown.times == 0 and live.state_label.text() == "● Following"


async def test_number_names_are_whole_at_1440_and_summary_gives_way(data_dir: Path) -> None:
    name = "Imobiliária Horizonte Litoral"
    async with running_app(data_dir) as app:
        live, table = app.live, app.live.table
        app.window.resize(1440, 900)
        pointer_away(app)
        await app.post(number_event("number.connected", "num_A", 1_790_000_000.0, name))
        await app.post(message(1))
        await until(lambda: app.cell(0, "Number") == name)
        header = table.horizontalHeader()
        number = COLUMNS.index("Number")
        needed = QFontMetrics(table.font()).horizontalAdvance(name) + 12
        await until(lambda: header.sectionSize(number) >= needed, seconds=3)
        assert header.sectionSize(COLUMNS.index("Summary")) >= 300
        tip = live.model.data(live.model.index(0, number), 3)  # ToolTipRole: the whole name
        assert name in tip
