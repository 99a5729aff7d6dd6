"""Live tells the truth about following, and rows never move under the pointer (issue 17,
points 1 and 2), against the real receiver, store and window on the Qt loop.

Following is the operator's choice, kept whatever resizing did; new rows wait behind the
"N new" badge while the pointer is over the rows or a row is selected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSlider

from pilot_desktop.ui.panes.live.model import ID_ROLE
from tests.gui.support import until
from tests.gui.test_live import App, message, running_app


async def feed(app: App, first: int, n: int) -> int:
    for i in range(first, first + n):
        await app.post(message(i))
    return first + n


def newest_in_view(app: App) -> bool:
    table = app.live.table
    bottom = table.indexAt(QPoint(5, table.viewport().height() - 5))
    last = app.live.model.rowCount() - 1
    return table.rowAt(table.viewport().height() - 5) in (last, -1) and (
        not bottom.isValid() or bottom.row() == last
    )


def id_at(app: App, point: QPoint) -> Any:
    return app.live.table.indexAt(point).data(ID_ROLE)


async def test_following_survives_shrinking_and_enlarging_and_says_when_it_stops(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live, bar = app.live, app.live.table.verticalScrollBar()
        app.window.resize(1440, 900)
        n = await feed(app, 0, 60)
        await until(lambda: live.model.rowCount() == n)
        for size in ((640, 420), (1440, 900), (1024, 700), (640, 420), (1440, 900)):
            app.window.resize(*size)
            n = await feed(app, n, 5)
            await until(lambda n=n: live.model.rowCount() == n and bar.value() == bar.maximum())
            assert newest_in_view(app) and not live.badge.isVisible()
        # The operator scrolls up: the view stays, and the badge counts what came in below,
        # through any resize.
        bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
        top = bar.value()
        n = await feed(app, n, 7)
        await until(lambda: live.model.rowCount() == n)
        await until(live.badge.isVisible)
        assert live.badge.text() == "7 new"
        for size in ((640, 420), (1440, 900)):
            app.window.resize(*size)
            n = await feed(app, n, 1)
            await until(lambda n=n: live.model.rowCount() == n)
        await until(lambda: live.badge.text() == "9 new")
        assert live.badge.isVisible() and bar.value() == top
        assert live.state_label.text() == "↑ Not following"
        assert live.pause_button.text() == "Pause"
        live.badge.click()  # show them, follow again
        assert live.state_label.text() == "● Following" and not live.badge.isVisible()
        n = await feed(app, n, 3)
        await until(lambda: live.model.rowCount() == n and bar.value() == bar.maximum())
        # Scrolling back to the bottom by hand follows again too.
        bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
        bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
        assert live.state_label.text() == "● Following"
        app.window.resize(640, 420)
        n = await feed(app, n, 3)
        await until(lambda: live.model.rowCount() == n and bar.value() == bar.maximum())
        assert newest_in_view(app)


async def test_the_row_under_the_pointer_stays_put_and_a_click_selects_it(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live, table = app.live, app.live.table
        app.window.resize(1024, 700)
        n = await feed(app, 0, 60)
        await until(lambda: live.model.rowCount() == n)
        viewport = table.viewport()
        aim = QPoint(40, viewport.height() // 2)
        QTest.mouseMove(viewport, aim)
        await until(viewport.underMouse)
        aimed = id_at(app, aim)
        assert aimed is not None
        n = await feed(app, n, 30)  # ~160 events a minute is one every 0.4 s: 30 here at once
        await until(lambda: live.badge.text() == "30 new" or live.model.rowCount() == n, seconds=5)
        assert id_at(app, aim) == aimed  # nothing moved under the pointer
        assert live.model.rowCount() == 60 and live.badge.isVisible()
        assert live.state_label.text() == "Held: pointer on a row"
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, aim)
        assert live.detail.title.text() and table.currentIndex().data(ID_ROLE) == aimed
        # The pointer leaves with a row selected: the rows still wait, the badge says so.
        QTest.mouseMove(live.pause_button)
        await until(lambda: not viewport.underMouse())
        n = await feed(app, n, 2)
        await until(lambda: live.badge.text() == "32 new")
        assert live.model.rowCount() == 60 and id_at(app, aim) == aimed
        assert live.state_label.text() == "Held: row selected"
        live.jump_to_newest()  # End: all shown, following again
        assert live.model.rowCount() == n and not live.badge.isVisible()
        n = await feed(app, n, 4)
        bar = table.verticalScrollBar()
        await until(lambda: live.model.rowCount() == n and bar.value() == bar.maximum())
        # Nothing selected, the pointer comes and goes: held while over, shown when it leaves.
        QTest.mouseMove(viewport, aim)
        await until(viewport.underMouse)
        n = await feed(app, n, 5)
        await until(lambda: live.badge.text() == "5 new")
        QTest.mouseMove(live.pause_button)
        await until(lambda: live.model.rowCount() == n and bar.value() == bar.maximum())
        assert not live.badge.isVisible() and live.state_label.text() == "● Following"


async def test_paused_says_so_and_the_badge_counts(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live = app.live
        n = await feed(app, 0, 3)
        await until(lambda: live.model.rowCount() == n)
        live.pause_button.click()
        assert live.state_label.text() == "‖ Paused" and live.pause_button.text() == "Resume"
        n = await feed(app, n, 4)
        await until(lambda: live.badge.text() == "4 new")
        live.badge.click()  # the badge shows them: unpaused, following
        assert live.model.rowCount() == n and not live.paused and live.pause_button.text() == "Pause"
        assert live.state_label.text() == "● Following"
