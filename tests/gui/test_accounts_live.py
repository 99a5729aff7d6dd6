"""An account added while the window runs takes effect without a restart: its numbers are
in the open Send dialog, the Webhooks pane and the Numbers pane; in the demo the window
offers to leave the demo, and leaving runs the real receiver with the account, in the same
process (ui/app.py's main, the real sandbox as the platform)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from shiboken6 import isValid

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.ui.app import _main, make_app
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from tests.gui.support import close_app, memory_core, open_window, until


async def test_an_account_added_while_the_send_dialog_is_open_lists_its_numbers(data_dir: Path) -> None:
    core = memory_core(data_dir)
    window = await open_window(core)
    sandbox = Sandbox(seed=3, numbers=2, rate=0.0, time_scale=0.0)
    await sandbox.start()
    try:
        window.show()
        dialog = window.open_send()
        assert dialog is not None and dialog.number.count() == 0 and not dialog.send_button.isEnabled()
        assert "No account yet" in dialog.strip.message.text()
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
        ids = {n.id for n in sandbox.numbers}
        # Without closing the dialog, nor restarting.
        assert {dialog.number.itemData(i) for i in range(dialog.number.count())} == ids
        assert dialog.send_button.isEnabled() and not dialog.strip.message.isVisibleTo(dialog)
        pane = window.webhooks
        assert isinstance(pane, WebhooksPane)
        listed = {pane.numbers.item(i).data(Qt.ItemDataRole.UserRole) for i in range(pane.numbers.count())}
        assert listed == ids
        numbers = window.numbers
        assert numbers is not None
        window.show_numbers()
        await until(lambda: ids <= set(numbers.cards))  # polled through the new account
    finally:
        await sandbox.stop()
        await close_app(window, core)


@contextmanager
def signals_kept() -> Iterator[None]:
    """The app's main takes SIGINT/SIGTERM for its staged shutdown; give them back."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)


async def test_leaving_the_demo_now_runs_the_real_receiver_with_the_new_account(data_dir: Path) -> None:
    make_app()  # as run_gui does: the demo's window closing must not quit the app
    profile = Config.open(resolve(data_dir))
    profile.settings.update({"receiver.port": 0})
    secrets = MemorySecrets()
    demo = AppCore(resolve(data_dir), profile, CoreOptions(demo=True), secrets=secrets)
    windows: list[MainWindow] = []
    sandbox = Sandbox(seed=4, numbers=2, rate=0.0, time_scale=0.0)
    await sandbox.start()
    with signals_kept():
        main = asyncio.ensure_future(_main(demo, on_window=windows.append))
        try:
            await until(lambda: len(windows) == 1, 30)
            first = windows[0]
            assert "DEMO" in first.windowTitle()
            demo_url = demo.hook_url
            # Add account… in the demo: the key goes to the profile.
            await demo.profile_accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Mine")
            offer = first.findChild(QMessageBox)
            assert offer is not None and offer.isVisible()
            leave = next(b for b in offer.buttons() if b.text() == "Leave the demo now")
            leave.click()

            await until(lambda: len(windows) == 2, 30)
            real = windows[1]
            assert "DEMO" not in real.windowTitle() and real.isVisible()
            assert not isValid(first)  # the demo's window is gone
            assert profile.state.value.real_receiver  # the next launch starts real too
            ids = {n.id for n in sandbox.numbers}
            dialog = real.open_send()
            assert dialog is not None
            assert {dialog.number.itemData(i) for i in range(dialog.number.count())} == ids
            numbers = real.numbers
            assert numbers is not None
            real.show_numbers()
            await until(lambda: ids <= set(numbers.cards), 30)
            # The demo's core is stopped: its receiver is closed.
            with pytest.raises(aiohttp.ClientConnectionError):
                async with aiohttp.ClientSession() as session, session.post(demo_url, json={}):
                    pass
        finally:
            for window in windows[-1:]:
                window.hide_on_close = None
                window.close()
            await asyncio.wait_for(main, 30)
            await sandbox.stop()
    assert main.result() == 0


async def test_the_demo_bar_leaves_the_demo_later_after_stay(data_dir: Path) -> None:
    """Stay in the demo is not final: the demo bar's link asks again, and without an
    account of the operator's it says to add one first instead of opening an empty window."""
    make_app()  # as run_gui does: the demo's window closing must not quit the app
    profile = Config.open(resolve(data_dir))
    profile.settings.update({"receiver.port": 0})
    demo = AppCore(resolve(data_dir), profile, CoreOptions(demo=True), secrets=MemorySecrets())
    windows: list[MainWindow] = []
    sandbox = Sandbox(seed=5, numbers=1, rate=0.0, time_scale=0.0)
    await sandbox.start()
    with signals_kept():
        main = asyncio.ensure_future(_main(demo, on_window=windows.append))
        try:
            await until(lambda: len(windows) == 1, 30)
            first = windows[0]
            first.demo_bar.full.linkActivated.emit("leave-demo")  # no account of the operator's yet
            assert first.findChild(QMessageBox) is None
            assert "add your API key" in first.banner.text.text()
            await demo.profile_accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Mine")
            offer = first.findChild(QMessageBox)
            assert offer is not None and offer.isVisible()
            next(b for b in offer.buttons() if b.text() == "Stay in the demo").click()
            await until(lambda: first.findChild(QMessageBox) is None or not offer.isVisible())
            first.demo_bar.full.linkActivated.emit("leave-demo")
            again = [box for box in first.findChildren(QMessageBox) if box.isVisible()]
            assert len(again) == 1
            next(b for b in again[0].buttons() if b.text() == "Leave the demo now").click()
            await until(lambda: len(windows) == 2, 30)
            assert "DEMO" not in windows[1].windowTitle()
        finally:
            for window in windows[-1:]:
                window.hide_on_close = None
                window.close()
            await asyncio.wait_for(main, 30)
            await sandbox.stop()
    assert main.result() == 0
