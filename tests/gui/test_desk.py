"""The desk: the menu bar's shortcuts, the keyboard map, the receiver's address in the status
bar, and the demo bar, on a real window over a real core (offscreen Qt, the app's loop)."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from pilot_desktop.services.core import AppCore
from pilot_desktop.services.settings import NotificationSettings, ReceiverSettings, Settings
from pilot_desktop.ui.app import _main, make_app
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.tray import NumbersTray
from tests.gui.support import close_app, memory_core, open_window, until

Key, Mod = Qt.Key, Qt.KeyboardModifier
CTRL = Mod.ControlModifier


def settings(*, close_to_tray: bool = False) -> Settings:
    return Settings(
        receiver=ReceiverSettings(port=0), notifications=NotificationSettings(close_to_tray=close_to_tray)
    )


async def activate(window: MainWindow) -> None:
    """In front and active, so keys reach it (waited on the loop: QTest's own wait would
    spin a nested Qt loop under the app's asyncio loop and leave tasks stuck)."""
    window.bring_to_front()
    handle = window.windowHandle()
    assert handle is not None
    handle.requestActivate()
    await until(window.isActiveWindow)


@asynccontextmanager
async def shown(data_dir: Path, *, close_to_tray: bool = False) -> AsyncIterator[tuple[MainWindow, AppCore]]:
    """The window over a started core, shown and active (keys go where the focus is)."""
    core = memory_core(data_dir, settings(close_to_tray=close_to_tray))
    window = await open_window(core)
    window.show()
    await activate(window)
    try:
        yield window, core
    finally:
        await close_app(window, core)


def current(window: MainWindow) -> str:
    return window.tabs.tabText(window.tabs.currentIndex())


def press(key: Key, modifiers: Mod = Mod.NoModifier) -> None:
    """A key where the focus is (a pane's table, a field), as the operator types it."""
    target = QApplication.focusWidget() or QApplication.activeWindow()
    assert target is not None
    QTest.keyClick(target, key, modifiers)


async def test_ctrl_digits_and_ctrl_tab_switch_panes_wherever_the_focus_is(data_dir: Path) -> None:
    async with shown(data_dir) as (window, _):
        names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert names == ["Live", "Messages", "Webhooks", "Delivery", "Numbers", "Refused"]
        assert window.live is not None
        window.live.table.setFocus()  # in a table, which has keys of its own
        for i, name in enumerate(names):
            press(getattr(Key, f"Key_{i + 1}"), CTRL)
            assert current(window) == name
        press(Key.Key_Tab, CTRL)  # past the last: round to the first
        assert current(window) == "Live"
        press(Key.Key_Backtab, CTRL | Mod.ShiftModifier)
        assert current(window) == "Refused"
        press(Key.Key_PageUp, CTRL)
        assert current(window) == "Numbers"
        press(Key.Key_PageDown, CTRL)
        assert current(window) == "Refused"
        press(Key.Key_2, CTRL)
        assert window.messages is not None
        window.messages.search_box.setFocus()
        press(Key.Key_Tab, CTRL)  # from a text field too
        assert current(window) == "Webhooks"


async def test_ctrl_comma_asks_for_the_settings_and_the_menu_shows_every_key(data_dir: Path) -> None:
    async with shown(data_dir) as (window, _):
        asked: list[bool] = []
        window.settings_requested.connect(lambda: asked.append(True))
        press(Key.Key_Comma, CTRL)
        assert asked == [True]
        file_menu = window.menuBar().actions()[0].menu()
        assert isinstance(file_menu, QWidget)
        items = {a.text(): [k.toString() for k in a.shortcuts()] for a in file_menu.actions() if a.text()}
        assert items["Settings…"] == ["Ctrl+,"]
        assert items["Close window"] == ["Ctrl+W"] and items["Quit"] == ["Ctrl+Q"]
        assert window.menus.send.isEnabled()  # the core's accounts are known: Send test message…


def tray_over(window: MainWindow, core: AppCore, told: list[str]) -> NumbersTray:
    """A tray that exists (offscreen has none: its availability is given), its balloons kept."""
    return NumbersTray(
        window,
        core.profile.settings,
        list,
        tray_available=True,
        messages_supported=True,
        sink=lambda title, _text, _icon: told.append(title),
    )


async def test_ctrl_w_hides_the_window_to_the_tray_when_close_to_tray_is_on(data_dir: Path) -> None:
    async with shown(data_dir, close_to_tray=True) as (window, core):
        told: list[str] = []
        tray = tray_over(window, core, told)
        closed: list[bool] = []
        window.window_did_close.connect(lambda: closed.append(True))
        try:
            press(Key.Key_W, CTRL)
            assert not window.isVisible()
            assert closed == []  # still running in the tray: nothing stopped
            assert core.listening
            assert told == ["Pilot Desktop is still running"]
            tray.quit()  # the tray's Quit: the one quit path
            assert closed == [True]
        finally:
            tray.shutdown()
            tray.deleteLater()


@pytest.mark.parametrize("close_to_tray", [True, False])
async def test_ctrl_q_quits_whatever_close_to_tray_says(data_dir: Path, close_to_tray: bool) -> None:
    async with shown(data_dir, close_to_tray=close_to_tray) as (window, core):
        told: list[str] = []
        tray = tray_over(window, core, told)
        closed: list[bool] = []
        window.window_did_close.connect(lambda: closed.append(True))
        try:
            press(Key.Key_Q, CTRL)
            assert closed == [True]
            assert told == []  # no "still running": it is not
        finally:
            tray.shutdown()
            tray.deleteLater()


async def test_ctrl_w_closes_the_window_when_close_to_tray_is_off(data_dir: Path) -> None:
    async with shown(data_dir) as (window, core):
        tray = tray_over(window, core, [])
        closed: list[bool] = []
        window.window_did_close.connect(lambda: closed.append(True))
        try:
            press(Key.Key_W, CTRL)
            assert closed == [True]
        finally:
            tray.shutdown()
            tray.deleteLater()


async def test_ctrl_q_quits_through_the_staged_shutdown(data_dir: Path) -> None:
    """The app's own main: Ctrl+Q ends it the way the tray's Quit does (the window closes,
    the core stops: the receiver no longer answers), even with close-to-tray on."""
    make_app()
    core = memory_core(data_dir, settings(close_to_tray=True))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    main = asyncio.ensure_future(_main(core))
    try:

        def window() -> MainWindow | None:
            found = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
            return found[0] if found else None

        await until(lambda: window() is not None and core.listening)
        shown_window = window()
        assert shown_window is not None
        url = core.hook_url
        await activate(shown_window)
        press(Key.Key_Q, CTRL)
        assert await asyncio.wait_for(main, 20) == 0
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(url, data=b"{}")
        shown_window.deleteLater()
    finally:
        if not main.done():
            main.cancel()
            await core.stop()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        await asyncio.sleep(0.05)
        gc.collect()


def every_shortcut(window: MainWindow) -> list[str]:
    """The key of every QShortcut in the window and of every menu action, as shown."""
    keys = [s.key().toString(QKeySequence.SequenceFormat.NativeText) for s in window.findChildren(QShortcut)]
    for action in window.menuBar().actions():
        menu = action.menu()
        for item in menu.actions() if isinstance(menu, QWidget) else []:
            keys += [k.toString(QKeySequence.SequenceFormat.NativeText) for k in item.shortcuts()]
    return [k for k in keys if k]


async def test_f1_opens_the_keyboard_map_listing_every_shortcut_with_the_panes(data_dir: Path) -> None:
    async with shown(data_dir) as (window, _):
        assert window.shortcut_sheet is None
        press(Key.Key_F1)
        sheet = window.shortcut_sheet
        assert sheet is not None and sheet.isVisible()
        rows = {(r.section, r.shown, r.what) for r in sheet.rows}
        assert ("File", "Ctrl+Q", "Quit") in rows
        assert ("File", "Ctrl+W", "Close window") in rows
        assert ("View", "Ctrl+5", "Show the Numbers pane") in rows
        assert ("View", "Ctrl+Tab, Ctrl+PgDown", "Next pane") in rows
        assert ("Live", "Space", "Pause or follow the newest events") in rows
        assert ("Messages", "/", "Search") in rows
        assert ("Numbers", "J, Down", "Select the next number") in rows
        assert ("Message timeline", "Alt+Left", "Back to the message shown before") in rows
        text = sheet.plain()
        assert "(not described)" not in text
        listed = {k for r in sheet.rows for k in r.keys}
        missing = set(every_shortcut(window)) - listed
        assert not missing, f"shortcuts missing from the keyboard map: {missing}"


async def test_the_listening_address_says_what_it_is_and_copies_on_click(data_dir: Path) -> None:
    async with shown(data_dir) as (window, core):
        label = window.status.receiver_label
        await until(lambda: label.text().startswith("● Listening"))
        assert "/hooks/…" in label.text()  # the token stays out of screenshots
        tip = label.toolTip()
        assert tip.startswith(f"Webhooks go to {core.hook_url}")
        assert "this app's webhook receiver" in tip and "Click to copy" in tip
        QGuiApplication.clipboard().clear()
        QTest.mouseClick(label, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == core.hook_url  # whole, with its token
        assert window.status.copied == f"Copied: {core.hook_url}"


async def test_a_stopped_receiver_offers_nothing_to_copy(data_dir: Path) -> None:
    async with shown(data_dir) as (window, _):
        window.status.set_receiver(None, "Cannot listen on 127.0.0.1:1: in use")
        label = window.status.receiver_label
        assert "Click to copy" not in label.toolTip()
        QGuiApplication.clipboard().setText("before")
        QTest.mouseClick(label, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == "before"


def demo_window(folder: Path) -> MainWindow:
    make_app()
    window = MainWindow(None, "http://127.0.0.1:1/hooks/t", folder / "window.ini", store_error="no store")
    window.show_demo(None, "port busy")
    window.resize(1024, 700)
    window.show()
    return window


async def test_the_demo_bar_folds_to_one_line_and_stays_folded(tmp_path: Path) -> None:
    window = demo_window(tmp_path)
    bar = window.demo_bar
    try:
        assert bar.isVisibleTo(window) and "--no-demo" in bar.text()
        tall = bar.sizeHint().height()
        bar.toggle.click()
        assert not bar.full.isVisibleTo(window) and bar.short.isVisibleTo(window)
        assert bar.sizeHint().height() < tall
        assert "DEMO" in window.windowTitle()  # still labelled
        window.close()
        window.shutdown()
        window.deleteLater()
        window = demo_window(tmp_path)  # the next start
        bar = window.demo_bar
        assert bar.short.isVisibleTo(window) and not bar.full.isVisibleTo(window)
        bar.toggle.click()
        assert bar.full.isVisibleTo(window)
        state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        assert state.value("demo/collapsed") in (False, "false")
    finally:
        window.close()
        window.shutdown()
        window.deleteLater()
        await asyncio.sleep(0.05)
        gc.collect()
